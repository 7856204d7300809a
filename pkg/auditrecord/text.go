package auditrecord

import (
	"fmt"
	"unicode/utf8"
)

// TextProblem applies Decode's whole-body text checks to a body that another
// front end (the Claude Code hooks endpoint) translates into native events
// before decoding: the offsets in the reason then point into the body the
// client sent, not into the translation. It returns "" when the body passes.
func TextProblem(body []byte) string {
	if !utf8.Valid(body) {
		return fmt.Sprintf("body is not valid UTF-8 (first bad byte at offset %d)", firstInvalidUTF8(body))
	}
	if off := unpairedSurrogate(body); off >= 0 {
		return fmt.Sprintf("unpaired UTF-16 surrogate escape at byte %d", off)
	}
	return ""
}
