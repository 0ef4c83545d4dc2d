// Command imds is the EC2 instance metadata test peer: AWS's
// amazon-ec2-metadata-mock (its own command, config loading and server) on
// a private loopback port behind a logging front on the peer's address.
// Flags set the instance region, the IAM role and its credentials, and the
// user data on top of an optional mock config; -imdsv2 makes a session
// token (PUT /latest/api/token) required first.
package main

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"time"

	aemm "github.com/aws/amazon-ec2-metadata-mock/pkg/cmd/root"

	"github.com/flintboot/flint/tests/peers/internal/peer"
)

func main() {
	var pf peer.Flags
	fs := flag.NewFlagSet("imds", flag.ExitOnError)
	pf.Register(fs)
	config := fs.String("config", "", "amazon-ec2-metadata-mock JSON config to start from")
	imdsv2 := fs.Bool("imdsv2", false, "require an IMDSv2 session token")
	region := fs.String("region", "", "instance region (placement/region and the identity document)")
	role := fs.String("role", "", "IAM role name under iam/security-credentials/")
	accessKey := fs.String("access-key", "", "AccessKeyId of the role credentials")
	secretKey := fs.String("secret-key", "", "SecretAccessKey of the role credentials")
	token := fs.String("session-token", "", "Token of the role credentials")
	userData := fs.String("user-data", "", "file whose bytes are the user data")
	fs.Parse(os.Args[1:])

	cfg := map[string]any{}
	if *config != "" {
		b, err := os.ReadFile(*config)
		if err != nil {
			peer.Fatal(err)
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			peer.Fatal(fmt.Errorf("%s: %w", *config, err))
		}
	}
	set := func(path []string, v any) {
		m := cfg
		for _, k := range path[:len(path)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[path[len(path)-1]] = v
	}
	if *region != "" {
		set([]string{"metadata", "values", "placement-region"}, *region)
		set([]string{"metadata", "values", "placement-availability-zone"}, *region+"a")
		set([]string{"dynamic", "values", "instance-identity-document", "region"}, *region)
		set([]string{"dynamic", "values", "instance-identity-document", "availabilityZone"}, *region+"a")
	}
	if *role != "" {
		set([]string{"metadata", "values", "iam-security-credentials-role"}, *role)
		set([]string{"metadata", "paths", "iam-security-credentials"}, "/latest/meta-data/iam/security-credentials/"+*role)
	}
	if *accessKey != "" {
		set([]string{"metadata", "values", "iam-security-credentials"}, map[string]any{
			"Code": "Success", "Type": "AWS-HMAC", "LastUpdated": time.Now().UTC().Format(time.RFC3339),
			"AccessKeyId": *accessKey, "SecretAccessKey": *secretKey, "Token": *token,
			"Expiration": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339),
		})
	}
	if *userData != "" {
		b, err := os.ReadFile(*userData)
		if err != nil {
			peer.Fatal(err)
		}
		set([]string{"userdata", "values", "userdata"}, base64.StdEncoding.EncodeToString(b))
	}
	dir, err := os.MkdirTemp("", "flint-imds-peer-")
	if err != nil {
		peer.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfgPath := filepath.Join(dir, "aemm.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		peer.Fatal(err)
	}
	os.Setenv("HOME", dir)
	os.Chdir(dir)

	port, err := freePort()
	if err != nil {
		peer.Fatal(err)
	}
	args := []string{"-n", "127.0.0.1", "-p", fmt.Sprint(port), "-c", cfgPath}
	if *imdsv2 {
		args = append(args, "--imdsv2")
	}
	cmd := aemm.NewCmd()
	cmd.SetArgs(args)
	cmd.SetOut(os.Stderr)
	failed := make(chan error, 1)
	go func() { failed <- cmd.Execute() }()
	backend := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitUp(backend, failed); err != nil {
		peer.Fatal(err)
	}
	target, _ := url.Parse(backend)
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	if err := peer.Serve(pf, proxy, nil); err != nil {
		peer.Fatal(err)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitUp(base string, failed <-chan error) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-failed:
			return fmt.Errorf("amazon-ec2-metadata-mock exited: %v", err)
		default:
		}
		resp, err := http.Get(base + "/latest/meta-data/instance-id")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("amazon-ec2-metadata-mock did not start: %v", err)
		}
		time.Sleep(30 * time.Millisecond)
	}
}
