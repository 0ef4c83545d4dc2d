// Command gcs is the Google Cloud Storage test peer: fake-gcs-server's JSON
// API on loopback, seeded from a manifest, optionally requiring
// "Authorization: Bearer <token>".
package main

import (
	"encoding/json"
	"flag"
	"net/http"
	"os"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/flintboot/flint/tests/peers/internal/peer"
)

func main() {
	var pf peer.Flags
	fs := flag.NewFlagSet("gcs", flag.ExitOnError)
	pf.Register(fs)
	objects := fs.String("objects", "", "JSON manifest of objects to create")
	bearer := fs.String("bearer", "", "refuse requests without Authorization: Bearer <this token> (401)")
	fs.Parse(os.Args[1:])
	objs, err := peer.ReadObjects(*objects)
	if err != nil {
		peer.Fatal(err)
	}
	var initial []fakestorage.Object
	for _, o := range objs {
		b, err := o.Content()
		if err != nil {
			peer.Fatal(err)
		}
		initial = append(initial, fakestorage.Object{
			ObjectAttrs: fakestorage.ObjectAttrs{BucketName: o.Bucket, Name: o.Key}, Content: b})
	}
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, InitialObjects: initial})
	if err != nil {
		peer.Fatal(err)
	}
	h := gcs.HTTPHandler()
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *bearer != "" && r.Header.Get("Authorization") != "Bearer "+*bearer {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
				"code": 401, "message": "Anonymous caller does not have storage.objects.get access."}})
			return
		}
		h.ServeHTTP(w, r)
	})
	if err := peer.Serve(pf, front, nil); err != nil {
		peer.Fatal(err)
	}
}
