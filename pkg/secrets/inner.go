package secrets

import (
	"regexp"
	"strings"
)

// Formats whose distinctive literal is inside the token rather than at its
// start: the anchor is that literal, the rule checks what precedes it.

var (
	csAzureSecret     = mkset("A-Za-z0-9_~.")
	csAzureSecretTail = mkset("A-Za-z0-9_~.-")
	csTFTail          = mkset("A-Za-z0-9_=-")
)

func innerAnchorRules() []*rule {
	return []*rule{
		{
			name: "azure_ad_client_secret", anchors: []string{"Q~"}, types: []string{tAzureADSecret},
			match: func(s *scan, p, _ int) {
				t := s.text
				if !hasPrefixAt(t, p, "Q~") || p < 4 || !isDigit(t[p-1]) {
					return
				}
				st := p - 4
				for i := st; i < p-1; i++ {
					if !csAzureSecret[t[i]] {
						return
					}
				}
				if !leftOK(t, st, csAzureSecretTail) {
					return
				}
				end := runEnd(t, p+2, csAzureSecretTail, 35)
				if n := end - (p + 2); n < 31 || n > 34 || !rightOK(t, end, csAzureSecretTail) {
					return
				}
				s.add(st, end, tAzureADSecret)
			},
		},
		{
			name: "azure_devops_pat", anchors: []string{"AZDO"}, types: []string{tAzureDevOps},
			match: func(s *scan, p, _ int) {
				t := s.text
				if !hasPrefixAt(t, p, "AZDO") || p < 76 {
					return
				}
				st := p - 76
				if runEnd(t, st, csAlnum, 76) != p || !leftOK(t, st, csAlnum) {
					return
				}
				end := runEnd(t, p+4, csAlnum, 5)
				if end-(p+4) != 4 {
					return
				}
				s.add(st, end, tAzureDevOps)
			},
		},
		{
			name: "newrelic_license_key", anchors: []string{"NRAL"}, types: []string{tNRLicense},
			match: func(s *scan, p, _ int) {
				t := s.text
				if !hasPrefixAt(t, p, "NRAL") || p < 36 {
					return
				}
				st := p - 36
				if runEnd(t, st, csHexLower, 36) != p || !leftOK(t, st, csAlnum) || !rightOK(t, p+4, csAlnum) {
					return
				}
				s.add(st, p+4, tNRLicense)
			},
		},
		{
			name: "telegram_bot_token", anchors: []string{":AA"}, types: []string{tTelegram},
			match: func(s *scan, p, _ int) {
				t := s.text
				if !hasPrefixAt(t, p, ":AA") {
					return
				}
				st := p
				for st > 0 && isDigit(t[st-1]) && p-st <= 10 {
					st--
				}
				// the Bot API puts the token in the path: api.telegram.org/bot<token>/getMe
				if n := p - st; n < 8 || n > 10 || !(leftOK(t, st, mkTelegramLeft) || hasPrefixAt(t, st-4, "/bot")) {
					return
				}
				end := runEnd(t, p+3, csB64URL, 34)
				if end-(p+3) != 33 {
					return
				}
				s.add(st, end, tTelegram)
			},
		},
		{
			name: "mailchimp_api_key", anchors: []string{"-us"}, types: []string{tMailchimp},
			match: func(s *scan, p, _ int) {
				t := s.text
				if !hasPrefixAt(t, p, "-us") || p < 32 {
					return
				}
				st := p - 32
				if runEnd(t, st, csHexLower, 32) != p || !leftOK(t, st, csAlnum) {
					return
				}
				end := runEnd(t, p+3, csDigits, 3)
				if n := end - (p + 3); n < 1 || n > 2 || !rightOK(t, end, csAlnum) {
					return
				}
				s.add(st, end, tMailchimp)
			},
		},
		{
			name: "terraform_cloud_token", anchors: []string{".atlasv1."}, types: []string{tTFCloud},
			match: func(s *scan, p, _ int) {
				t := s.text
				if !hasPrefixAt(t, p, ".atlasv1.") || p < 14 {
					return
				}
				st := p - 14
				if runEnd(t, st, csAlnum, 14) != p || !leftOK(t, st, csAlnum) {
					return
				}
				end := runEnd(t, p+9, csTFTail, 71)
				if n := end - (p + 9); n < 60 || n > 70 {
					return
				}
				s.add(st, end, tTFCloud)
			},
		},
		{
			name: "openai_legacy_key", anchors: []string{"T3BlbkFJ"}, types: []string{tOpenAILegacy},
			match: func(s *scan, p, _ int) {
				t := s.text
				if !hasPrefixAt(t, p, "T3BlbkFJ") || p < 23 || !hasPrefixAt(t, p-23, "sk-") {
					return
				}
				st := p - 23
				if runEnd(t, st+3, csAlnum, 20) != p || !leftOK(t, st, csAlnum) {
					return
				}
				end := runEnd(t, p+8, csAlnum, 21)
				if end-(p+8) != 20 {
					return
				}
				s.add(st, end, tOpenAILegacy)
			},
		},
		{
			name: "maxmind_license_key", anchors: []string{"_mmk"}, types: []string{tMaxmind},
			match: func(s *scan, p, _ int) {
				t := s.text
				if !hasPrefixAt(t, p, "_mmk") || p < 36 {
					return
				}
				st := p - 36
				if runEnd(t, st, csAlnum, 6) != st+6 || t[st+6] != '_' || runEnd(t, st+7, csAlnum, 29) != p ||
					!leftOK(t, st, csWord) || !rightOK(t, p+4, csWord) {
					return
				}
				s.add(st, p+4, tMaxmind)
			},
		},
	}
}

var mkTelegramLeft = mkset("A-Za-z0-9:_")

// privateKeyRules: PEM, OpenSSH, PGP and PuTTY private key blocks.
func privateKeyRules() []*rule {
	return []*rule{
		{
			name: "private_key_block", anchors: []string{"-----BEGIN "},
			types: []string{tPEM, tOpenSSH, tPGP},
			match: func(s *scan, p, _ int) {
				t := s.text
				if !hasPrefixAt(t, p, "-----BEGIN ") {
					return
				}
				i := p + len("-----BEGIN ")
				labEnd := strings.Index(t[i:min(len(t), i+64)], "-----")
				if labEnd < 0 {
					return
				}
				label := t[i : i+labEnd]
				typ := tPEM
				switch {
				case strings.HasSuffix(label, "PGP PRIVATE KEY BLOCK"):
					typ = tPGP
				case label == "OPENSSH PRIVATE KEY":
					typ = tOpenSSH
				case strings.HasSuffix(label, "PRIVATE KEY"):
				default:
					return
				}
				for j := 0; j < len(label); j++ {
					if !isUpper(label[j]) && !isDigit(label[j]) && label[j] != ' ' {
						return
					}
				}
				body := i + labEnd + 5
				window := t[body:min(len(t), body+1<<16)]
				end := -1
				if k := strings.Index(window, "-----END "); k >= 0 {
					if m := strings.Index(window[k+9:min(len(window), k+9+64)], "-----"); m >= 0 {
						end = body + k + 9 + m + 5
					}
				}
				if end < 0 {
					// Truncated block: up to the end of the string it sits in.
					k := strings.IndexAny(window, "\"'`<>{}")
					if k < 0 {
						k = len(window)
					}
					end = body + k
				}
				s.add(p, end, typ)
			},
		},
		{
			name: "putty_private_key", anchors: []string{"PuTTY-User-Key-File-"}, types: []string{tPuTTY},
			match: func(s *scan, p, _ int) {
				t := s.text
				if !hasPrefixAt(t, p, "PuTTY-User-Key-File-") {
					return
				}
				const reach = 1 << 15
				k := strings.Index(t[p:], "Private-Lines:")
				if k < 0 {
					s.skip = len(t) // no later header can find private lines either
					return
				}
				if k > reach {
					s.skip = p + k - reach
					return
				}
				window := t[p:min(len(t), p+reach+4096)]
				end := len(window)
				if m := strings.Index(window[k:], "Private-MAC:"); m >= 0 {
					j := k + m + len("Private-MAC:")
					for j < len(window) && isSpace(window[j]) {
						j++
					}
					end = runEnd(window, j, csHex, 256)
				} else if q := strings.IndexAny(window[k:], "\"'`<>{}"); q >= 0 {
					end = k + q
				}
				s.add(p+k, p+end, tPuTTY)
			},
		},
	}
}

// webhookRules: webhook URLs whose path is the credential. The host stays
// (it is evidence of where the agent posted); the path is reported.
func webhookRules() []*rule {
	pathRule := func(typ, anchor string, re *regexp.Regexp, group int) *rule {
		return &rule{
			name: typ, anchors: []string{anchor}, types: []string{typ},
			match: func(s *scan, p, e int) {
				t := s.text
				if !hasPrefixFold(t, p, strings.ToLower(anchor)) {
					return
				}
				w := t[e:min(len(t), e+512)]
				m := re.FindStringSubmatchIndex(w)
				if m == nil {
					return
				}
				end := e + m[1]
				if !rightOK(t, end, csB64URL) {
					return
				}
				s.add(e+m[2*group], e+m[2*group+1], typ)
			},
		}
	}
	return []*rule{
		pathRule(tSlackWebhook, "hooks.slack.com/",
			regexp.MustCompile(`^((?:services|workflows|triggers)/T[A-Z0-9]{8,12}/[A-Za-z0-9]{8,12}/[A-Za-z0-9/_-]{16,120})`), 1),
		pathRule(tDiscordHook, "discord.com/api/webhooks/", regexp.MustCompile(`^[0-9]{17,20}/([A-Za-z0-9_-]{60,100})`), 1),
		pathRule(tDiscordHook, "discordapp.com/api/webhooks/", regexp.MustCompile(`^[0-9]{17,20}/([A-Za-z0-9_-]{60,100})`), 1),
		pathRule(tTeamsHook, "webhook.office.com/",
			regexp.MustCompile(`^(webhookb2/[0-9a-f-]{36}@[0-9a-f-]{36}/IncomingWebhook/[0-9a-f]{32}/[0-9a-f-]{36}(?:/[A-Za-z0-9_-]{20,})?)`), 1),
	}
}
