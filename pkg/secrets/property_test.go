package secrets

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// corpus: every text the other tests use, plus composites.
func corpus() []string {
	var out []string
	for _, c := range formatCases() {
		for _, p := range c.pos {
			for _, ctx := range tokenContexts {
				out = append(out, strings.Replace(ctx, "%s", p, 1))
			}
		}
		out = append(out, c.neg...)
	}
	out = append(out, benignTexts()...)
	out = append(out, agentPayloads()...)
	return out
}

// agentPayloads are realistic tool inputs and outputs with a few secrets.
func agentPayloads() []string {
	g := newGen(41)
	b := g.s(chAlnum, 30)
	gh := "ghp_" + b + b62crc(b)
	tok := g.mixed(chB64URL, 40)
	return []string{
		`{"tool":"bash","input":{"command":"curl -sS -H 'Authorization: Bearer ` + tok + `' https://api.example.com/v1/items | jq ."}}`,
		"$ env\nHOME=/home/agent\nPATH=/usr/bin:/bin\nGITHUB_TOKEN=" + gh + "\nDB_PASSWORD=hunter2\nLANG=C.UTF-8\n",
		`{"tool":"write_file","input":{"path":"/srv/app/.env","content":"DATABASE_URL=postgres://app:pg-pass-1@db:5432/app\nSTRIPE_KEY=sk_live_` + g.s(chAlnum, 24) + `\n"}}`,
		"POST /v1/messages HTTP/1.1\r\nHost: api.example.com\r\nx-api-key: " + tok + "\r\nContent-Type: application/json\r\n\r\n{}",
		"contact: alice@example.com, phone +44 20 7946 0958, iban " + ibanFor("DE", g.s(chDigits, 18)),
		"münchen straße — ✓ 東京 password=pässwörd ünïcødé " + gh + " — fin",
		"\xff\xfe password=\xc3\x28 token=\xe2\x82 " + gh + "\x80\x80",
	}
}

func TestInvariants(t *testing.T) {
	d := det(t)
	for _, text := range corpus() {
		fs := d.Find(text, nil)
		if err := findingsOK(text, fs); err != nil {
			t.Errorf("%v in %q%s", err, text, show(text, fs))
		}
		// dst is appended to
		pre := []Finding{{0, 0, "x"}}
		if got := d.Find(text, pre); len(got) != len(fs)+1 || got[0] != pre[0] {
			t.Errorf("Find does not append to dst")
		}
	}
}

// Masking the findings and scanning again finds nothing: the masks are not
// secrets, and no secret survives partially.
func TestIdempotentMask(t *testing.T) {
	d := det(t)
	for _, text := range corpus() {
		fs := d.Find(text, nil)
		if len(fs) == 0 {
			continue
		}
		masked := redact(text, fs)
		if again := d.Find(masked, nil); len(again) != 0 {
			t.Errorf("masked text still has findings:\n  orig   %q\n  masked %q%s", text, masked, show(masked, again))
		}
	}
}

func TestUTF8Boundaries(t *testing.T) {
	d := det(t)
	// secrets glued to multi-byte runes and invalid bytes
	b := newGen(5).s(chAlnum, 30)
	gh := "ghp_" + b + b62crc(b)
	for _, text := range []string{
		"é" + gh + "é",
		"password=ü€𝄞secret€",
		"password=\xe2\x82",
		"token=" + strings.Repeat("\x80", 20),
		`{"password":"` + "日本語のパスワード" + `"}`,
		"\xf0\x9f\x98" + "password=x1",
	} {
		fs := d.Find(text, nil)
		if err := findingsOK(text, fs); err != nil {
			t.Errorf("%v in %q%s", err, text, show(text, fs))
		}
		for _, f := range fs {
			if utf8.ValidString(text) && !utf8.ValidString(text[f.Start:f.End]) {
				t.Errorf("finding splits a rune: %q", text[f.Start:f.End])
			}
		}
	}
}

func TestConcurrent(t *testing.T) {
	d := det(t)
	texts := corpus()
	want := make([][]Finding, len(texts))
	for i, s := range texts {
		want[i] = d.Find(s, nil)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := range texts {
				i := (k + w*7) % len(texts)
				got := d.Find(texts[i], nil)
				if len(got) != len(want[i]) {
					t.Errorf("concurrent result differs for %q", texts[i])
					return
				}
				for j := range got {
					if got[j] != want[i][j] {
						t.Errorf("concurrent result differs for %q", texts[i])
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
}

func TestRandomInputs(t *testing.T) {
	d := det(t)
	g := newGen(99)
	alphabet := "ghp_AKIAsk-xoxb:/@.=\"' \n\t-+()0123456789passwordtokenkeyBearer\xff\xc3é€"
	pieces := corpus()
	for i := 0; i < 3000; i++ {
		var sb strings.Builder
		for sb.Len() < g.r.IntN(400) {
			switch g.r.IntN(3) {
			case 0:
				sb.WriteString(g.s(alphabet, 1+g.r.IntN(20)))
			case 1:
				p := pieces[g.r.IntN(len(pieces))]
				a := g.r.IntN(len(p) + 1)
				bb := a + g.r.IntN(len(p)-a+1)
				sb.WriteString(p[a:bb])
			default:
				sb.WriteString(g.s(chB64URL, 1+g.r.IntN(60)))
			}
		}
		text := sb.String()
		fs := d.Find(text, nil)
		if err := findingsOK(text, fs); err != nil {
			t.Fatalf("%v in %q%s", err, text, show(text, fs))
		}
		_ = d.FindValue("password", text, nil)
	}
}

func FuzzFind(f *testing.F) {
	for _, s := range agentPayloads() {
		f.Add(s)
	}
	f.Add("password=hunter2 4111 1111 1111 1111 bob@example.com")
	d := mustNew(f, Options{})
	f.Fuzz(func(t *testing.T, text string) {
		fs := d.Find(text, nil)
		if err := findingsOK(text, fs); err != nil {
			t.Fatalf("%v%s", err, show(text, fs))
		}
		vs := d.FindValue("api_key", text, nil)
		if err := findingsOK(text, vs); err != nil {
			t.Fatalf("FindValue: %v%s", err, show(text, vs))
		}
		_ = d.IsSecretKey(text)
	})
}

// Pathological inputs (64 KiB of one repeated anchor) stay linear: every
// rule examines a bounded window per anchor hit and skips what it already
// examined. The bound is generous: it only catches quadratic blow-ups.
func TestLinearTime(t *testing.T) {
	d := det(t)
	n := 64 << 10
	rep := func(s string) string { return strings.Repeat(s, n/len(s)+1)[:n] }
	inputs := []string{
		rep("curl "), rep("docker login -p "), rep("eyJ "), rep("eyJAAAAAAAAAAAA."), rep("password="), rep("password: x "),
		rep(`"password": "`), rep("a@"), rep("a@b."), rep("1 "), rep("1-"), rep("+1 "), rep("4111 "), rep("DE89 "),
		rep("PuTTY-User-Key-File-"), rep("-----BEGIN RSA PRIVATE KEY-----"), rep("://"), rep("a:b@"), rep("sk-proj-"),
		rep("token=" + strings.Repeat("Ab1", 10) + " "), rep("Authorization: "), rep("bearer "), rep("ghp_"),
		rep("AAAAAAAAAAAAAAAAAAAAAAAAA"), rep("00D"), rep("mysql -p"), rep("sig="), rep("vault "), rep("aws_secret "),
		rep("AKIA"), rep("Q~"), rep(":AA"), rep("-us"), rep("(415) "), rep("key"), rep("@a.com"), rep(`x\n`), rep("pass:"),
		rep("https://"), rep("x=y&"), rep("<password>"), rep("--password "), rep("0"), rep("0 "), rep("a"),
	}
	clean := cleanText(n)
	start := time.Now()
	d.Find(clean, nil)
	base := time.Since(start)
	var slowest time.Duration
	for _, in := range inputs {
		start := time.Now()
		d.Find(in, nil)
		el := time.Since(start)
		if el > 500*time.Millisecond && el > 2000*base {
			t.Errorf("%q...: %v for 64 KiB (clean text: %v)", in[:16], el, base)
		}
		slowest = max(slowest, el)
	}
	t.Logf("%d inputs, slowest %v, clean text %v", len(inputs), slowest, base)
}

func TestREADMEListsEveryType(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, ti := range Types() {
		row := "| `" + ti.ID + "` | " + string(ti.Class) + " |"
		if !strings.Contains(readme, row) {
			t.Errorf("README.md has no row %q", row)
		}
	}
}
