package secrets

import (
	"strings"
	"testing"
)

// cleanText is prose with no anchor of any rule and no digit: what an agent's
// summary or a file listing without credentials looks like to the prefilter.
func cleanText(n int) string {
	const para = "The agent listed the files in the working directory, opened the main module and summarised " +
		"the results for the user. It then checked the build logs, found nothing unusual and wrote a short note " +
		"about the changes it would make next. "
	return strings.Repeat(para, n/len(para)+1)[:n]
}

// benignJSON is an audit record without secrets but with many near misses
// (ids, hashes, token counts, paths): candidates that all get rejected.
func benignJSON(n int) string {
	g := newGen(77)
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(`{"event":"tool.call","trace_id":"` + g.s(chHex, 32) + `","span_id":"` + g.s(chHex, 16) +
			`","gen_ai.usage.input_tokens":1234,"gen_ai.usage.output_tokens":56,"file.path":"/home/agent/src/main.go",` +
			`"commit":"` + g.s(chHex, 40) + `","url":"https://api.github.com/repos/org/repo/pulls?state=open",` +
			`"ts":"2024-01-02T03:04:05.123Z","version":"v0.162.0"}` + "\n")
	}
	return b.String()[:n]
}

// withSecrets is benign JSON with a few secrets of different kinds.
func withSecrets(n int) string {
	g := newGen(78)
	bd := g.s(chAlnum, 30)
	secrets := []string{
		`{"cmd":"curl -H 'Authorization: Bearer ` + g.mixed(chB64URL, 40) + `' https://api.example.com"}` + "\n",
		"GITHUB_TOKEN=ghp_" + bd + b62crc(bd) + "\n",
		`{"password":"hunter2","email":"alice@example.com"}` + "\n",
		"AKIA" + g.s(chB32AWS, 16) + "\n",
	}
	lines := strings.SplitAfter(benignJSON(n), "\n")
	var b strings.Builder
	step := max(1, len(lines)/len(secrets))
	for i, l := range lines {
		if i%step == 0 && i/step < len(secrets) {
			b.WriteString(secrets[i/step])
		}
		b.WriteString(l)
	}
	return b.String()
}

func TestCleanTextHasNoCandidates(t *testing.T) {
	d := det(t)
	text := cleanText(64 << 10)
	a := d.ac
	var st uint32
	hits := 0
	for i := 0; i < len(text); i++ {
		st = a.delta[st+uint32(a.class[text[i]])]
		if st&acHit != 0 {
			hits++
			st &^= acHit
		}
	}
	if hits != 0 || strings.ContainsAny(text, "0123456789+(") {
		t.Fatalf("clean text has %d anchor hits", hits)
	}
	if fs := d.Find(text, nil); len(fs) != 0 {
		t.Fatalf("clean text has findings")
	}
	if fs := d.Find(withSecrets(1<<10), nil); len(fs) < 4 {
		t.Fatalf("secrets text: %d findings", len(fs))
	}
}

func benchFind(b *testing.B, text string) {
	d := mustNew(b, Options{})
	var dst []Finding
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst = d.Find(text, dst[:0])
	}
}

func BenchmarkFind(b *testing.B) {
	b.Run("1KB_clean", func(b *testing.B) { benchFind(b, cleanText(1<<10)) })
	b.Run("1KB_benign_json", func(b *testing.B) { benchFind(b, benignJSON(1<<10)) })
	b.Run("1KB_secrets", func(b *testing.B) { benchFind(b, withSecrets(1<<10)) })
	b.Run("64KB_clean", func(b *testing.B) { benchFind(b, cleanText(64<<10)) })
	b.Run("64KB_benign_json", func(b *testing.B) { benchFind(b, benignJSON(64<<10)) })
	b.Run("64KB_secrets", func(b *testing.B) { benchFind(b, withSecrets(64<<10)) })
}

// BenchmarkByteScan is the floor "1KB_clean" is compared with: one table
// lookup per byte, the least any scanner that looks at every byte does.
func BenchmarkByteScan(b *testing.B) {
	for _, n := range []int{1 << 10, 64 << 10} {
		text := cleanText(n)
		var table [256]uint8
		for c := 'a'; c <= 'z'; c++ {
			table[c] = 1
		}
		b.Run(map[int]string{1 << 10: "1KB", 64 << 10: "64KB"}[n], func(b *testing.B) {
			b.SetBytes(int64(n))
			sink := 0
			for i := 0; i < b.N; i++ {
				s := 0
				for j := 0; j < len(text); j++ {
					s += int(table[text[j]])
				}
				sink += s
			}
			if sink == -1 {
				b.Fatal()
			}
		})
	}
}

func BenchmarkFindValue(b *testing.B) {
	d := mustNew(b, Options{})
	var dst []Finding
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dst = d.FindValue("db_password", "hunter2-hunter2", dst[:0])
		dst = d.FindValue("gen_ai.usage.input_tokens", "1234", dst[:0])
	}
}

func BenchmarkIsSecretKey(b *testing.B) {
	d := mustNew(b, Options{})
	keys := []string{"gen_ai.usage.input_tokens", "AWS_SECRET_ACCESS_KEY", "file.path", "x-api-key", "session.id"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = d.IsSecretKey(keys[i%len(keys)])
	}
}

func BenchmarkNew(b *testing.B) {
	for i := 0; i < b.N; i++ {
		_ = mustNew(b, Options{})
	}
}
