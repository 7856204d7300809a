package secrets

import (
	"hash/crc32"
	"math"
	"unicode/utf8"
)

// charset is a byte membership table.
type charset [256]bool

// mkset builds a charset from a spec of single bytes and ranges "a-z".
// A '-' that is first or last in the spec is literal.
func mkset(spec string) *charset {
	var cs charset
	for i := 0; i < len(spec); i++ {
		if i+2 < len(spec) && spec[i+1] == '-' {
			for c := int(spec[i]); c <= int(spec[i+2]); c++ {
				cs[c] = true
			}
			i += 2
			continue
		}
		cs[spec[i]] = true
	}
	return &cs
}

var (
	csAlnum     = mkset("A-Za-z0-9")
	csWord      = mkset("A-Za-z0-9_")
	csB64URL    = mkset("A-Za-z0-9_-")
	csB64       = mkset("A-Za-z0-9+/")
	csB64Pad    = mkset("A-Za-z0-9+/=")
	csHexLower  = mkset("0-9a-f")
	csHex       = mkset("0-9a-fA-F")
	csUpperDig  = mkset("A-Z0-9")
	csLowerDig  = mkset("a-z0-9")
	csLetters   = mkset("A-Za-z")
	csDigits    = mkset("0-9")
	csAWSBase32 = mkset("A-Z2-7")
	// csKey is what a key name (env var, JSON key, flag, header) is made of.
	csKey = mkset("A-Za-z0-9_.-")
	// csJWTLeft must not precede a JWT (they are part of another token then).
	csJWTLeft = mkset("A-Za-z0-9_.-")
)

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return csAlnum[c] }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isSpace(c byte) bool { return c == ' ' || c == '\t' }
func isWS(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}

// hasPrefixFold reports whether s[i:] starts with p, ASCII case-insensitively.
// p must be lower case.
func hasPrefixFold(s string, i int, p string) bool {
	if i < 0 || len(s)-i < len(p) {
		return false
	}
	for j := 0; j < len(p); j++ {
		if lower(s[i+j]) != p[j] {
			return false
		}
	}
	return true
}

func hasPrefixAt(s string, i int, p string) bool {
	return i >= 0 && len(s)-i >= len(p) && s[i:i+len(p)] == p
}

// runEnd returns the end of the run of cs bytes starting at i, looking at no
// more than limit bytes.
func runEnd(s string, i int, cs *charset, limit int) int {
	end := len(s)
	if limit >= 0 && i+limit < end {
		end = i + limit
	}
	for i < end && cs[s[i]] {
		i++
	}
	return i
}

// leftOK reports whether the byte before i is not in bad (or i is 0).
func leftOK(s string, i int, bad *charset) bool {
	return i <= 0 || !bad[s[i-1]]
}

// rightOK reports whether the byte at i is not in bad (or i is the end).
func rightOK(s string, i int, bad *charset) bool {
	return i >= len(s) || !bad[s[i]]
}

// shannon returns the Shannon entropy of s in bits per byte.
func shannon(s string) float64 {
	if len(s) == 0 {
		return 0
	}
	var counts [256]uint32
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	var h float64
	for _, c := range counts {
		if c == 0 {
			continue
		}
		p := float64(c) / n
		h -= p * math.Log2(p)
	}
	return h
}

// base62 alphabet of GitHub and npm token checksums (digits, upper, lower).
const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62Checksum encodes crc32(IEEE) of payload as 6 base62 digits, zero
// padded: the checksum GitHub (ghp_, gho_, ghu_, ghs_, ghr_) and npm (npm_)
// append to their tokens.
func base62Checksum(payload string) [6]byte {
	v := ^uint32(0)
	for i := 0; i < len(payload); i++ {
		v = crc32.IEEETable[byte(v)^payload[i]] ^ v>>8
	}
	v = ^v
	var out [6]byte
	for i := 5; i >= 0; i-- {
		out[i] = base62Alphabet[v%62]
		v /= 62
	}
	return out
}

// checkBase62CRC verifies a body whose last 6 characters are the base62 CRC32
// of the rest.
func checkBase62CRC(body string) bool {
	if len(body) <= 6 {
		return false
	}
	sum := base62Checksum(body[:len(body)-6])
	return string(sum[:]) == body[len(body)-6:]
}

// luhn reports whether the digits pass the Luhn check.
func luhn(digits []byte) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// snapToRunes widens [start, end) so that both ends are boundaries of the
// UTF-8 decoding of s (the positions a range loop over s visits).
func snapToRunes(s string, start, end int) (int, int) {
	if start > 0 && start < len(s) && !utf8.RuneStart(s[start]) {
		for i := start - 1; i >= 0 && i >= start-3; i-- {
			if utf8.RuneStart(s[i]) {
				_, w := utf8.DecodeRuneInString(s[i:])
				if i+w > start {
					start = i
				}
				break
			}
		}
	}
	if end > 0 && end < len(s) && !utf8.RuneStart(s[end]) {
		for i := end - 1; i >= 0 && i >= end-3; i-- {
			if utf8.RuneStart(s[i]) {
				_, w := utf8.DecodeRuneInString(s[i:])
				if i+w > end {
					end = i + w
				}
				break
			}
		}
	}
	return start, end
}

// lineStart returns the index of the first byte of the line containing i,
// looking back at most limit bytes (then it returns i-limit).
func lineStart(s string, i, limit int) int {
	stop := max(0, i-limit)
	for i > stop && s[i-1] != '\n' && s[i-1] != '\r' {
		i--
	}
	return i
}

// lineEnd returns the index of the line break at or after i (or len(s)),
// looking at most limit bytes ahead (then it returns i+limit).
func lineEnd(s string, i, limit int) int {
	stop := min(len(s), i+limit)
	for i < stop && s[i] != '\n' && s[i] != '\r' {
		i++
	}
	return i
}

// containsFold reports whether s contains sub, ASCII case-insensitively; sub
// must be lower case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if hasPrefixFold(s, i, sub) {
			return true
		}
	}
	return false
}
