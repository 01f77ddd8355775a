// Command go-peer is the go-spiffe side of spiffe-sdk's interop tests (docs/interop.md): an mTLS
// HTTP server or client, and a JWT-SVID fetcher and validator, all using go-spiffe with the
// Workload API named by SPIFFE_ENDPOINT_SOCKET. It prints one JSON object per line on stdout so
// the Node tests can read what happened; a failed client operation exits with status 1.
//
//	go-peer serve -allow <spiffe-id>          mTLS server on 127.0.0.1, answers with the peer's ID
//	go-peer request -url <url> -expect <id>   mTLS client, accepts only that server ID
//	go-peer fetch-jwt -audience <aud>         prints a JWT-SVID from the agent
//	go-peer validate-jwt -audience <aud>      validates the token on stdin with the agent's JWT bundles
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// Every Workload API call and request must finish well within the Node tests' own timeouts.
const callTimeout = 30 * time.Second

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: go-peer serve|request|fetch-jwt|validate-jwt [flags]"))
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	allow := flags.String("allow", "", "SPIFFE ID of the only client the server accepts")
	url := flags.String("url", "", "URL to request")
	expect := flags.String("expect", "", "SPIFFE ID of the only server the client accepts")
	audience := flags.String("audience", "", "JWT-SVID audience")
	_ = flags.Parse(os.Args[2:])

	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, spiffeid.RequireFromString(*allow))
	case "request":
		err = request(ctx, *url, spiffeid.RequireFromString(*expect))
	case "fetch-jwt":
		err = fetchJWT(ctx, *audience)
	case "validate-jwt":
		err = validateJWT(ctx, *audience)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func emit(fields map[string]any) {
	line, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(line))
}

func fail(err error) {
	emit(map[string]any{"event": "error", "error": err.Error()})
	os.Exit(1)
}

// serve runs until stdin closes (the test that started it is done or gone); the X509Source keeps
// the SVID current across rotations.
func serve(ctx context.Context, allow spiffeid.ID) error {
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	source, err := workloadapi.NewX509Source(ctx)
	if err != nil {
		return err
	}
	defer source.Close()
	svid, err := source.GetX509SVID()
	if err != nil {
		return err
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	server := &http.Server{
		TLSConfig: tlsconfig.MTLSServerConfig(source, source, tlsconfig.AuthorizeID(allow)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			peer, err := spiffetls.PeerIDFromConnectionState(*r.TLS)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			emit(map[string]any{"event": "request", "peer": peer.String()})
			_, _ = io.WriteString(w, peer.String())
		}),
		// net/http reports refused handshakes only through ErrorLog.
		ErrorLog:          log.New(handshakeLog{}, "", 0),
		ReadHeaderTimeout: callTimeout,
	}
	emit(map[string]any{"event": "listening", "port": listener.Addr().(*net.TCPAddr).Port, "id": svid.ID.String()})
	return server.ServeTLS(listener, "", "")
}

type handshakeLog struct{}

func (handshakeLog) Write(p []byte) (int, error) {
	emit(map[string]any{"event": "server-error", "error": strings.TrimSpace(string(p))})
	return len(p), nil
}

func request(ctx context.Context, url string, expect spiffeid.ID) error {
	source, err := workloadapi.NewX509Source(ctx)
	if err != nil {
		return err
	}
	defer source.Close()
	client := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig: tlsconfig.MTLSClientConfig(source, source, tlsconfig.AuthorizeID(expect)),
		},
		Timeout: callTimeout,
	}
	response, err := client.Get(url)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return err
	}
	server, err := spiffetls.PeerIDFromConnectionState(*response.TLS)
	if err != nil {
		return err
	}
	emit(map[string]any{"event": "response", "status": response.StatusCode, "body": string(body), "server": server.String()})
	return nil
}

func fetchJWT(ctx context.Context, audience string) error {
	svid, err := workloadapi.FetchJWTSVID(ctx, jwtsvid.Params{Audience: audience})
	if err != nil {
		return err
	}
	emit(map[string]any{"event": "jwt", "id": svid.ID.String(), "token": svid.Marshal()})
	return nil
}

func validateJWT(ctx context.Context, audience string) error {
	token, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	bundles, err := workloadapi.FetchJWTBundles(ctx)
	if err != nil {
		return err
	}
	svid, err := jwtsvid.ParseAndValidate(strings.TrimSpace(string(token)), bundles, []string{audience})
	if err != nil {
		return err
	}
	emit(map[string]any{"event": "validated", "id": svid.ID.String(), "audience": svid.Audience})
	return nil
}
