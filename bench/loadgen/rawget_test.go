package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestRawGetter(t *testing.T) {
	body := bytes.Repeat([]byte("condachan"), 1<<20) // larger than any socket buffer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/pkg":
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		case "/close":
			w.Header().Set("Connection", "close")
			w.Header().Set("Content-Length", "5")
			w.Write([]byte("hello"))
		case "/chunked":
			w.Write([]byte("x"))
			w.(http.Flusher).Flush()
			w.Write([]byte("y"))
		case "/short":
			// A body cut short must be an error, never a whole request.
			conn, brw, _ := w.(http.Hijacker).Hijack()
			brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("z", 5000))
			brw.Flush()
			conn.Close()
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	tests := []struct {
		path    string
		want    int64
		wantErr string
	}{
		{"/pkg", int64(len(body)), ""},
		{"/close", 5, ""},
		{"/missing", 0, "status 404"},
		{"/chunked", 0, "Content-Length"},
		{"/short", 0, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			g, err := newRawGetter(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 { // the same getter again: keep-alive, or a new connection after close
				n, err := g.get()
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("request %d: error %v, want one about %q", i, err, tt.wantErr)
					}
					continue
				}
				if err != nil || n != tt.want {
					t.Fatalf("request %d: %d bytes, %v; want %d", i, n, err, tt.want)
				}
			}
		})
	}
}

func TestRawGetterReusesConnection(t *testing.T) {
	var conns int
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns++
		}
	}
	srv.Start()
	defer srv.Close()
	g, err := newRawGetter(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := g.get(); err != nil {
			t.Fatal(err)
		}
	}
	srv.Close()
	if conns != 1 {
		t.Fatalf("%d connections for 10 requests, want 1", conns)
	}
}

func TestRawGetterRejectsHTTPS(t *testing.T) {
	if _, err := newRawGetter("https://example.com/x"); err == nil {
		t.Fatal("an https URL was accepted")
	}
}
