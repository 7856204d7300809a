package auditrecord

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const schemaDocPath = "../../docs/schema.md"

func readSchemaDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(schemaDocPath)
	require.NoError(t, err, "docs/schema.md documents this package's schema")
	return string(b)
}

// docSection returns the part of doc from the heading that names `name` in
// backquotes up to the next heading of the same or a higher level.
func docSection(doc, name string) (string, bool) {
	lines := strings.Split(doc, "\n")
	for i, line := range lines {
		level := len(line) - len(strings.TrimLeft(line, "#"))
		if level == 0 || !strings.Contains(line, "`"+name+"`") {
			continue
		}
		end := len(lines)
		for j := i + 1; j < len(lines); j++ {
			l := len(lines[j]) - len(strings.TrimLeft(lines[j], "#"))
			if l > 0 && l <= level && strings.HasPrefix(lines[j][l:], " ") {
				end = j
				break
			}
		}
		return strings.Join(lines[i:end], "\n"), true
	}
	return "", false
}

func TestSchemaDocumentCoversEveryEventAndAttribute(t *testing.T) {
	doc := readSchemaDoc(t)
	var missing []string

	if !strings.Contains(doc, SchemaVersion) {
		missing = append(missing, "schema version "+SchemaVersion)
	}
	for _, name := range []string{ScopeName, AttrSchemaVersion} {
		if !strings.Contains(doc, "`"+name+"`") {
			missing = append(missing, name)
		}
	}
	for _, a := range CommonAttributes {
		if !strings.Contains(doc, "`"+a.Name+"`") {
			missing = append(missing, "common attribute "+a.Name)
		}
	}
	for _, et := range EventTypes {
		section, ok := docSection(doc, et.Name)
		if !ok {
			missing = append(missing, "section for event type "+et.Name)
			continue
		}
		for _, a := range et.Attributes {
			if !strings.Contains(section, "`"+a.Name+"`") {
				missing = append(missing, "attribute "+a.Name+" of event type "+et.Name)
			}
		}
	}
	assert.Empty(t, missing, "docs/schema.md does not mention these; document them")
}

var (
	fenceOpen     = regexp.MustCompile("^```([A-Za-z0-9_-]*)\\s*$")
	eventNameKey  = regexp.MustCompile(`"event_name"\s*:`)
	refusedMarker = regexp.MustCompile(`(?i)\brefused\b`)
)

// docExample is a fenced code block of the document.
type docExample struct {
	line    int // 1-based line of the opening fence
	lang    string
	text    string
	refused bool // the last non-blank line before the block says "refused"
}

func docExamples(doc string) []docExample {
	var out []docExample
	lines := strings.Split(doc, "\n")
	for i := 0; i < len(lines); i++ {
		m := fenceOpen.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		ex := docExample{line: i + 1, lang: m[1]}
		for k := i - 1; k >= 0; k-- {
			if strings.TrimSpace(lines[k]) != "" {
				ex.refused = refusedMarker.MatchString(lines[k])
				break
			}
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) != "```" {
			j++
		}
		ex.text = strings.Join(lines[i+1:min(j, len(lines))], "\n")
		out = append(out, ex)
		i = j
	}
	return out
}

func TestSchemaDocumentExamplesAreValid(t *testing.T) {
	doc := readSchemaDoc(t)
	covered := map[string]bool{}
	checked := 0
	for _, ex := range docExamples(doc) {
		var format Format
		switch ex.lang {
		case "json":
			format = FormatJSON
		case "ndjson":
			format = FormatNDJSON
		default:
			continue // ```text holds invalid examples and other material
		}
		if ex.refused || !eventNameKey.MatchString(ex.text) {
			continue
		}
		checked++
		ld, err := Decode([]byte(ex.text), format, DefaultLimits, time.Now())
		if !assert.NoError(t, err, "example at docs/schema.md:%d is refused:\n%s", ex.line, ex.text) {
			continue
		}
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					covered[lr.EventName()] = true
				}
			}
		}
	}
	require.NotZero(t, checked, "no ```json example with \"event_name\" found in docs/schema.md")

	var without []string
	for _, et := range EventTypes {
		if !covered[et.Name] {
			without = append(without, et.Name)
		}
	}
	assert.Empty(t, without, "event types without a valid example in docs/schema.md")
}
