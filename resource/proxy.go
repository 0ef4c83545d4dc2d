package resource

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// proxyFunc chooses the proxy of a request from the ignition.proxy section
// (never from the environment), with the rules of Go's own proxy
// configuration: https requests use HTTPSProxy, http requests HTTPProxy;
// localhost and loopback addresses are never proxied; noProxy entries are
// "*", an IP address, a CIDR range or a domain name (matching itself and
// its subdomains; with a leading "." only the subdomains), each with an
// optional :port.
func proxyFunc(p *Proxy) func(*http.Request) (*url.URL, error) {
	if p == nil {
		return nil
	}
	httpProxy, httpErr := parseProxy(p.HTTPProxy)
	httpsProxy, httpsErr := parseProxy(p.HTTPSProxy)
	var rules []noProxyRule
	for _, e := range p.NoProxy {
		for _, f := range strings.Split(e, ",") {
			if r, ok := parseNoProxy(f); ok {
				rules = append(rules, r)
			}
		}
	}
	return func(r *http.Request) (*url.URL, error) {
		proxy, err := httpProxy, httpErr
		switch r.URL.Scheme {
		case "https":
			proxy, err = httpsProxy, httpsErr
		case "http":
		default:
			return nil, nil
		}
		if proxy == nil || err != nil {
			return proxy, err
		}
		host, port := r.URL.Hostname(), r.URL.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[r.URL.Scheme]
		}
		if useProxy(strings.ToLower(host), port, rules) {
			return proxy, nil
		}
		return nil, nil
	}
}

func parseProxy(s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") {
		// no scheme: a host[:port] of an http proxy
		if u2, err2 := url.Parse("http://" + s); err2 == nil {
			return u2, nil
		}
		return nil, err
	}
	return u, nil
}

type noProxyRule struct {
	all    bool
	ip     net.IP
	cidr   *net.IPNet
	domain string // without a leading "." or "*."
	subs   bool   // subdomains only
	port   string
}

func parseNoProxy(s string) (noProxyRule, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "":
		return noProxyRule{}, false
	case "*":
		return noProxyRule{all: true}, true
	}
	if _, n, err := net.ParseCIDR(s); err == nil {
		return noProxyRule{cidr: n}, true
	}
	var r noProxyRule
	if h, p, err := net.SplitHostPort(s); err == nil {
		s, r.port = h, p
	}
	if ip := net.ParseIP(s); ip != nil {
		r.ip = ip
		return r, true
	}
	switch {
	case strings.HasPrefix(s, "*."):
		s, r.subs = s[2:], true
	case strings.HasPrefix(s, "."):
		s, r.subs = s[1:], true
	}
	r.domain = s
	return r, s != ""
}

// useProxy reports whether host:port goes through the proxy.
func useProxy(host, port string, rules []noProxyRule) bool {
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return false
	}
	for _, r := range rules {
		switch {
		case r.all:
			return false
		case r.cidr != nil:
			if ip != nil && r.cidr.Contains(ip) {
				return false
			}
		case r.port != "" && r.port != port:
		case r.ip != nil:
			if ip != nil && r.ip.Equal(ip) {
				return false
			}
		case host == r.domain:
			if !r.subs {
				return false
			}
		case strings.HasSuffix(host, "."+r.domain):
			return false
		}
	}
	return true
}
