package secrets

import (
	"strings"
	"testing"
)

func TestPII(t *testing.T) {
	g := newGen(21)
	card := func(prefix string, n int) string { return luhnComplete(prefix + g.s(chDigits, n-len(prefix)-1)) }
	group := func(s string, sep string, sizes ...int) string {
		var parts []string
		for _, n := range sizes {
			parts = append(parts, s[:n])
			s = s[n:]
		}
		return strings.Join(parts, sep)
	}
	visa := card("4", 16)
	mc := card("53", 16)
	mc2 := card("2221", 16)
	amex := card("37", 15)
	disc := card("6011", 16)
	jcb := card("3530", 16)
	diners := card("36", 14)
	union := card("62", 19)
	badLuhn := visa[:15] + string('0'+(visa[15]-'0'+1)%10)
	unknownIIN := card("9", 16)
	amex16 := card("34", 16)

	de := ibanFor("DE", g.s(chDigits, 18))
	gb := ibanFor("GB", "WEST"+g.s(chDigits, 14))
	fr := ibanFor("FR", g.s(chDigits, 10)+g.s(chUpperDig, 11)+g.s(chDigits, 2))
	nl := ibanFor("NL", "ABNA"+g.s(chDigits, 10))
	badCheck := de[:2] + func() string {
		if de[2:4] == "42" {
			return "43"
		}
		return "42"
	}() + de[4:]

	cases := []ctxCase{
		// e-mail
		{"email", "contact alice@example.com today", []string{"pii_email=alice@example.com"}},
		{"email plus", "first.last+tag@sub.example.co.uk,", []string{"pii_email=first.last+tag@sub.example.co.uk"}},
		{"email mailto", "<a href=\"mailto:bob@example.org\">", []string{"pii_email=bob@example.org"}},
		{"email json", `{"email":"x_y@corp.io"}`, []string{"pii_email=x_y@corp.io"}},
		{"email angle", "From: Bob <bob@example.net>", []string{"pii_email=bob@example.net"}},
		{"git remote", "git clone git@github.com:org/repo.git", nil},
		{"scp", "scp build.tar deploy@host.example.com:/srv/", nil},
		{"ssh target", "ssh deploy@prod.example.com uptime", nil},
		{"npm version", "npm i lodash@4.17.21 @types/node", nil},
		{"url path at", "https://medium.com/@user/post and https://www.npmjs.com/package/@scope/pkg", nil},
		{"no tld", "user@localhost and foo@bar", nil},
		{"docker digest", "image@sha256:" + strings.Repeat("ab", 32), nil},
		{"decorator", "@app.route('/x')", nil},

		// payment cards
		{"visa", "card " + visa + " exp", []string{"pii_payment_card=" + visa}},
		{"visa spaced", "card " + group(visa, " ", 4, 4, 4, 4) + ".", []string{"pii_payment_card=" + group(visa, " ", 4, 4, 4, 4)}},
		{"mc dashed", "pan=" + group(mc, "-", 4, 4, 4, 4), []string{"pii_payment_card=" + group(mc, "-", 4, 4, 4, 4)}},
		{"mc 2-series", mc2, []string{"pii_payment_card=" + mc2}},
		{"amex grouped", "amex " + group(amex, " ", 4, 6, 5), []string{"pii_payment_card=" + group(amex, " ", 4, 6, 5)}},
		{"discover", disc, []string{"pii_payment_card=" + disc}},
		{"jcb", jcb, []string{"pii_payment_card=" + jcb}},
		{"diners grouped", group(diners, " ", 4, 6, 4), []string{"pii_payment_card=" + group(diners, " ", 4, 6, 4)}},
		{"diners compact", diners, nil},
		{"unionpay 19 grouped", group(union, " ", 4, 4, 4, 4, 3), []string{"pii_payment_card=" + group(union, " ", 4, 4, 4, 4, 3)}},
		{"unionpay 19 compact", union, nil},
		{"negative number", "x := -" + visa, nil},
		{"int64 literals", "{" + visa + ", " + mc + "}", []string{"pii_payment_card=" + visa, "pii_payment_card=" + mc}},
		{"two cards", visa + " and " + mc, []string{"pii_payment_card=" + visa, "pii_payment_card=" + mc}},
		{"bad luhn", "card " + badLuhn, nil},
		{"unknown iin", "card " + unknownIIN, nil},
		{"amex length", amex16, nil},
		{"mixed separators", visa[:4] + " " + visa[4:8] + "-" + visa[8:12] + " " + visa[12:], nil},
		{"glued", "x" + visa + " " + visa + "y", nil},
		{"longer run", visa + "12", nil},
		{"decimal", visa + ".5", nil},
		{"ns timestamp", "ts=1712345678901234567 ms=1712345678901", nil},
		{"csv amount after", "2024-06-01," + mc2 + ",49.99\n", []string{"pii_payment_card=" + mc2}},
		{"csv id before", "871," + visa + ",129.90", []string{"pii_payment_card=" + visa}},
		{"compact list", "[" + visa + "," + mc + "]", nil},
		{"compact list last", "ids=9007199254740993," + visa, nil},

		// IBAN
		{"iban de", "IBAN " + de, []string{"pii_iban=" + de}},
		{"iban de spaced", "IBAN: " + ibanGroups(de) + ".", []string{"pii_iban=" + ibanGroups(de)}},
		{"iban gb", gb, []string{"pii_iban=" + gb}},
		{"iban fr spaced", ibanGroups(fr), []string{"pii_iban=" + ibanGroups(fr)}},
		{"iban nl", `"iban": "` + nl + `"`, []string{"pii_iban=" + nl}},
		{"iban bad check", badCheck, nil},
		{"iban short", de[:len(de)-1], nil},
		{"iban unknown country", "ZZ" + de[2:], nil},
		{"iban lower", strings.ToLower(de), nil},

		// US SSN
		{"ssn", "SSN 536-22-1234 on file", []string{"pii_us_ssn=536-22-1234"}},
		{"ssn json", `{"ssn":"123-45-6789"}`, []string{"pii_us_ssn=123-45-6789"}},
		{"ssn area 000", "000-12-3456", nil},
		{"ssn area 666", "666-12-3456", nil},
		{"ssn area 9xx", "900-12-3456", nil},
		{"ssn group 00", "123-00-4567", nil},
		{"ssn serial 0000", "123-45-0000", nil},
		{"ssn woolworth", "078-05-1120", nil},
		{"ssn no dashes", "536221234", nil},
		{"ssn in id", "CASE-536-22-1234 and 2024-536-22-1234", nil},

		// phone
		{"e164", "call +14155552671 now", []string{"pii_phone=+14155552671"}},
		{"intl spaced", "tel: +44 20 7946 0958", []string{"pii_phone=+44 20 7946 0958"}},
		{"intl parens", "+49 (0)30 1234567", []string{"pii_phone=+49 (0)30 1234567"}},
		{"intl dashes", "+1-415-555-2671", []string{"pii_phone=+1-415-555-2671"}},
		{"nanp parens", "(415) 555-2671", []string{"pii_phone=(415) 555-2671"}},
		{"nanp dashes", "cell 415-555-2671", []string{"pii_phone=415-555-2671"}},
		{"nanp dots", "415.555.2671", []string{"pii_phone=415.555.2671"}},
		{"nanp 1-", "1-800-555-0199", []string{"pii_phone=1-800-555-0199"}},
		{"short plus", "+1.5 and +12345 and +12345678 and {+123456789, 1}", nil},
		{"go literals", "m=+123.456789000 and Thu Feb 04 21:00:57 +1130 2010", nil},
		{"date", "2024-01-02 and +2024-01-02", nil},
		{"version", "v1.2.3 and 10.0.0.1", nil},
		{"seven digits", "555-1234", nil},
		{"area starts 1", "(123) 456-7890 and 123-456-7890", nil},
		{"glued plus", "x+14155552671 and 3+14155552671", nil},
		{"tz offset", "2024-01-02T10:00:00+05:30", nil},
	}
	checkCases(t, det(t), cases)

	// each PII class can be switched off
	for _, c := range []struct {
		class Class
		text  string
	}{
		{ClassEmail, "alice@example.com"}, {ClassPaymentCard, visa}, {ClassIBAN, de},
		{ClassUSSSN, "536-22-1234"}, {ClassPhone, "+14155552671"},
	} {
		d := mustNew(t, Options{DisabledClasses: []Class{c.class}})
		if fs := d.Find(c.text, nil); len(fs) != 0 {
			t.Errorf("%s disabled but found:%s", c.class, show(c.text, fs))
		}
		if fs := det(t).Find(c.text, nil); len(fs) != 1 || fs[0].Class() != c.class {
			t.Errorf("%s enabled:%s", c.class, show(c.text, fs))
		}
	}
}
