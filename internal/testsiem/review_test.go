package testsiem

import (
	"net/http"
	"strings"
	"testing"
)

// A request body over max_content_length answers 413 and stores nothing.
func TestReviewHECBodyOverMaxContentLength(t *testing.T) {
	s := NewSplunkHEC("tok").SetUseAck(false).SetMaxBody(100).Start(t)
	post := func(body string) int {
		req, err := http.NewRequest(http.MethodPost, s.URL()+"/services/collector/event", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Splunk tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ev := `{"event":"x"}`
	if got := post(strings.Repeat(ev, 10)); got != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", got)
	}
	if n := len(s.Events()); n != 0 {
		t.Fatalf("%d events stored from a refused request", n)
	}
	if got := post(ev + ev); got != http.StatusOK {
		t.Fatalf("status %d, want 200", got)
	}
	if n := len(s.Events()); n != 2 {
		t.Fatalf("%d events stored, want 2", n)
	}
}
