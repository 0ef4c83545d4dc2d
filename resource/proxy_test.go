package resource

import (
	"net/http"
	"testing"
)

func TestProxyChoice(t *testing.T) {
	pf := proxyFunc(&Proxy{HTTPProxy: "proxy.example:3128", HTTPSProxy: "https://sproxy.example",
		NoProxy: []string{"direct.example", ".subs.example", "*.star.example", "10.1.2.3", "192.168.0.0/16, port.example:8080", ""}})
	for url, want := range map[string]string{
		"http://a.example/x":         "http://proxy.example:3128",
		"https://a.example/x":        "https://sproxy.example",
		"http://direct.example/":     "",
		"http://www.direct.example/": "",
		"http://subs.example/":       "http://proxy.example:3128",
		"http://a.subs.example/":     "",
		"http://a.star.example/":     "",
		"http://10.1.2.3/":           "",
		"http://10.1.2.4/":           "http://proxy.example:3128",
		"http://192.168.7.7:99/":     "",
		"http://port.example:8080/":  "",
		"http://port.example/":       "http://proxy.example:3128",
		"http://localhost:8000/":     "",
		"http://127.0.0.1/":          "",
		"http://[::1]/":              "",
		"http://notdirect.example/":  "http://proxy.example:3128",
		"tftp://a.example/":          "",
	} {
		req, _ := http.NewRequest("GET", url, nil)
		got, err := pf(req)
		s := ""
		if got != nil {
			s = got.String()
		}
		if err != nil || s != want {
			t.Errorf("%s: %q %v, want %q", url, s, err, want)
		}
	}
	all := proxyFunc(&Proxy{HTTPProxy: "http://p", NoProxy: []string{"*"}})
	req, _ := http.NewRequest("GET", "http://a.example/", nil)
	if u, _ := all(req); u != nil {
		t.Errorf("noProxy * still proxies: %v", u)
	}
}
