package secrets

import (
	"encoding/base64"
	"strings"
	"testing"
)

// fmtCase: tokens of one format. pos must be reported with exactly this type
// (span = the whole token unless want is set); neg are near misses (wrong
// checksum, length, charset, prefix) that must not be reported at all.
type fmtCase struct {
	typ  string
	pos  []string
	want []string // the reported part of pos[i], when not the whole token
	neg  []string
}

func formatCases() []fmtCase {
	g := newGen(42)
	a, h, w := func(n int) string { return g.mixed(chAlnum, n) }, func(n int) string { return g.s(chHex, n) },
		func(n int) string { return g.mixed(chB64URL, n) }
	ghTok := func(prefix string) (string, string) {
		body := a(30)
		ok := prefix + body + b62crc(body)
		bad := []byte(ok)
		if bad[len(bad)-1] == 'A' {
			bad[len(bad)-1] = 'B'
		} else {
			bad[len(bad)-1] = 'A'
		}
		return ok, string(bad)
	}
	gh := func(typ, prefix string) fmtCase {
		ok, badSum := ghTok(prefix)
		ok2, _ := ghTok(prefix)
		return fmtCase{typ: typ, pos: []string{ok, ok2}, neg: []string{
			badSum,                           // wrong checksum
			ok[:len(ok)-1],                   // too short (and checksum off)
			ok[:20] + "!" + ok[20:],          // wrong charset
			strings.ToUpper(prefix) + ok[4:], // wrong prefix case
		}}
	}
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	jwt := func(header, payload string) string { return b64(header) + "." + b64(payload) + "." + w(43) }
	pem := func(label string) string {
		var b strings.Builder
		b.WriteString("-----BEGIN " + label + "-----\n")
		for i := 0; i < 4; i++ {
			b.WriteString(g.s(chB64, 64) + "\n")
		}
		b.WriteString("-----END " + label + "-----")
		return b.String()
	}
	ageOK := ageKey(g)
	ageBad := []byte(ageOK)
	if ageBad[30] == 'Q' {
		ageBad[30] = 'P'
	} else {
		ageBad[30] = 'Q'
	}
	putty := "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: test-key\nPublic-Lines: 2\n" +
		g.s(chB64, 64) + "\n" + g.s(chB64, 20) + "\nPrivate-Lines: 1\n" + g.s(chB64, 44) + "\nPrivate-MAC: " + h(64)
	puttyPriv := putty[strings.Index(putty, "Private-Lines:"):]
	slackHook := "services/T" + g.s(chUpperDig, 10) + "/B" + g.s(chUpperDig, 10) + "/" + a(24)
	discordTok := w(68)
	teamsPath := "webhookb2/" + "11111111-2222-3333-4444-555555555555@66666666-7777-8888-9999-000000000000/IncomingWebhook/" + h(32) + "/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

	cases := []fmtCase{
		gh(tGHClassic, "ghp_"), gh(tGHOAuth, "gho_"), gh(tGHU2S, "ghu_"), gh(tGHS2S, "ghs_"), gh(tGHRefresh, "ghr_"),
		{typ: tGHFine, pos: []string{"github_pat_11" + a(20) + "_" + a(59)},
			neg: []string{"github_pat_11" + a(20) + "_" + a(58), "github_pat_11" + a(19) + "_" + a(59), "github_pat_" + a(22) + "-" + a(59)}},

		{typ: tGLPAT, pos: []string{"glpat-" + w(20), "glpat-" + w(27) + ".01.0" + g.s(chLowerDig, 8)}, neg: []string{"glpat-" + w(19), "glpat_" + w(20)}},
		{typ: tGLDeploy, pos: []string{"gldt-" + w(20)}, neg: []string{"gldt-" + w(12)}},
		{typ: tGLRunner, pos: []string{"glrt-" + w(20), "glrt-t1_" + w(27) + ".0w." + g.s(chLowerDig, 9)}, neg: []string{"glrt-" + w(19)}},
		{typ: tGLRunReg, pos: []string{"GR1348941" + w(20)}, neg: []string{"GR1348941" + w(10)}},
		{typ: tGLTrigger, pos: []string{"glptt-" + h(40)}, neg: []string{"glptt-" + h(39), "glptt-" + h(38) + "zz"}},
		{typ: tGLJob, pos: []string{"glcbt-" + h(2) + "_" + w(20), "glcbt-" + w(20)}, neg: []string{"glcbt-" + a(10)}},
		{typ: tGLOAuth, pos: []string{"gloas-" + w(64)}, neg: []string{"gloas-" + w(63)}},
		{typ: tGLFeed, pos: []string{"glft-" + w(20)}, neg: []string{"glft-" + w(15)}},
		{typ: tGLMail, pos: []string{"glimt-" + w(25)}, neg: []string{"glimt-" + w(24)}},
		{typ: tGLAgent, pos: []string{"glagent-" + w(50)}, neg: []string{"glagent-" + w(49)}},
		{typ: tGLSCIM, pos: []string{"glsoat-" + w(20)}, neg: []string{"glsoat-" + w(19)}},
		{typ: tGLFeatFlag, pos: []string{"glffct-" + w(20)}, neg: []string{"glffct-" + w(19)}},

		{typ: tAWSKeyID, pos: []string{"AKIA" + g.s(chB32AWS, 16), "ASIA" + g.s(chB32AWS, 16), "ABIA" + g.s(chB32AWS, 16), "ACCA" + g.s(chB32AWS, 16)},
			neg: []string{"AKIA" + g.s(chB32AWS, 15), "AKIA" + g.s(chB32AWS, 17), "AKIA" + g.s(chB32AWS, 14) + "18", "AKIA" + strings.ToLower(g.s(chB32AWS, 16)), "XKIA" + g.s(chB32AWS, 16)}},
		{typ: tAWSSession, pos: []string{"IQoJb3JpZ2luX2Vj" + g.s(chB64, 300), "FwoGZXIvYXdz" + g.s(chB64, 200) + "=="}, neg: []string{"IQoJb3JpZ2luX2Vj" + g.s(chB64, 50)}},
		{typ: tAWSBedrock, pos: []string{"ABSKQmVkcm9ja0FQSUtleS" + g.s(chB64, 100)}, neg: []string{"ABSKQmVkcm9ja0FQSUtleS" + g.s(chB64, 20)}},

		{typ: tGCPAPIKey, pos: []string{"AIza" + w(35)}, neg: []string{"AIza" + w(34), "AIza" + w(36), "Aiza" + w(35)}},
		{typ: tGCPOAuthSec, pos: []string{"GOCSPX-" + w(28)}, neg: []string{"GOCSPX-" + w(27), "GOCSPX_" + w(28)}},
		{typ: tGCPAccess, pos: []string{"ya29." + w(120)}, neg: []string{"ya29." + w(20)}},
		{typ: tGCPRefresh, pos: []string{"1//0" + w(100)}, neg: []string{"1//0" + w(30), "x1//0" + w(100)}},
		{typ: tAzureADSecret, pos: []string{g.s(chAlnum, 3) + "8Q~" + a(34), "abc1Q~" + a(31)}, neg: []string{g.s(chAlnum, 3) + "8Q~" + a(30), g.s(chAlnum, 3) + "xQ~" + a(34)}},
		{typ: tAzureDevOps, pos: []string{a(76) + "AZDO" + a(4)}, neg: []string{a(75) + "AZDO" + a(4), a(76) + "AZDO" + a(3)}},

		{typ: tSlackBot, pos: []string{"xoxb-" + g.s(chDigits, 12) + "-" + g.s(chDigits, 13) + "-" + a(24)}, neg: []string{"xoxb-" + g.s(chDigits, 12) + "-" + g.s(chDigits, 13) + "-" + a(20), "xoxb-" + a(12) + "-" + g.s(chDigits, 13) + "-" + a(24)}},
		{typ: tSlackUser, pos: []string{"xoxp-" + g.s(chDigits, 12) + "-" + g.s(chDigits, 12) + "-" + g.s(chDigits, 13) + "-" + h(32)}, neg: []string{"xoxp-" + g.s(chDigits, 12) + "-" + g.s(chDigits, 12) + "-" + g.s(chDigits, 13) + "-" + h(31)}},
		{typ: tSlackApp, pos: []string{"xapp-1-A" + g.s(chUpperDig, 10) + "-" + g.s(chDigits, 13) + "-" + h(64)}, neg: []string{"xapp-1-A" + g.s(chUpperDig, 10) + "-" + g.s(chDigits, 13) + "-" + h(60)}},
		{typ: tSlackConfig, pos: []string{"xoxe.xoxp-1-" + a(163)}, neg: []string{"xoxe.xoxp-1-" + a(100)}},
		{typ: tSlackRefresh, pos: []string{"xoxe-1-" + a(146)}, neg: []string{"xoxe-1-" + a(100)}},
		{typ: tSlackLegacy, pos: []string{"xoxa-2-" + g.s(chDigits, 12) + "-" + a(32), "xoxs-" + g.s(chDigits, 11) + "-" + a(40)}, neg: []string{"xoxa-" + a(10)}},
		{typ: tSlackWebhook, pos: []string{"https://hooks.slack.com/" + slackHook}, want: []string{slackHook}, neg: []string{"https://hooks.slack.com/services/", "https://hooks.slack.com/services/X123/B456/abc"}},
		{typ: tDiscordHook, pos: []string{"https://discord.com/api/webhooks/123456789012345678/" + discordTok}, want: []string{discordTok}, neg: []string{"https://discord.com/api/webhooks/123456789012345678/" + w(20)}},
		{typ: tTeamsHook, pos: []string{"https://contoso.webhook.office.com/" + teamsPath}, want: []string{teamsPath}, neg: []string{"https://contoso.webhook.office.com/webhookb2/x"}},

		{typ: tStripeLive, pos: []string{"sk_live_" + a(24), "sk_live_" + a(99)}, neg: []string{"sk_live_" + a(20), "sk_live-" + a(24)}},
		{typ: tStripeTest, pos: []string{"sk_test_" + a(24)}, neg: []string{"sk_test_" + a(23)}},
		{typ: tStripeRK, pos: []string{"rk_live_" + a(24), "rk_test_" + a(30)}, neg: []string{"rk_live_" + a(23)}},
		{typ: tStripeWebhook, pos: []string{"whsec_" + a(32)}, neg: []string{"whsec_" + a(16)}},
		{typ: tTwilioKey, pos: []string{"SK" + h(32)}, neg: []string{"SK" + h(31), "SK" + h(33), "SK" + h(30) + "zz", "sk" + h(32)}},
		{typ: tSendGrid, pos: []string{"SG." + w(22) + "." + w(43)}, neg: []string{"SG." + w(21) + "." + w(43), "SG." + w(22) + "." + w(42), "SG-" + w(22) + "." + w(43)}},
		{typ: tShopifyAT, pos: []string{"shpat_" + h(32)}, neg: []string{"shpat_" + h(31), "shpat_" + h(30) + "zz"}},
		{typ: tShopifyCA, pos: []string{"shpca_" + h(32)}, neg: []string{"shpca_" + h(33)}},
		{typ: tShopifyPA, pos: []string{"shppa_" + h(32)}, neg: []string{"shppa_" + h(31)}},
		{typ: tShopifySS, pos: []string{"shpss_" + h(32)}, neg: []string{"shpss_" + h(16)}},
		{typ: tAtlassian, pos: []string{"ATATT3xFfGF0" + w(170) + "=" + strings.ToUpper(h(8))}, neg: []string{"ATATT3" + w(100)}},
		{typ: tBitbucket, pos: []string{"ATBB" + a(32)}, neg: []string{"ATBB" + a(20)}},
		{typ: tLinearAPI, pos: []string{"lin_api_" + a(40)}, neg: []string{"lin_api_" + a(39), "lin_api_" + a(41)}},
		{typ: tLinearOAuth, pos: []string{"lin_oauth_" + h(64)}, neg: []string{"lin_oauth_" + h(63)}},
		{typ: tPostman, pos: []string{"PMAK-" + h(24) + "-" + h(34)}, neg: []string{"PMAK-" + h(24) + "-" + h(33), "PMAK-" + h(23) + "-" + h(34)}},
		{typ: tFigma, pos: []string{"figd_" + w(40)}, neg: []string{"figd_" + w(30)}},
		{typ: tNotion, pos: []string{"ntn_" + a(46)}, neg: []string{"ntn_" + a(45)}},
		{typ: tNotionLegacy, pos: []string{"secret_" + a(43)}, neg: []string{"secret_" + a(42), "client_secret_" + a(43)}},
		{typ: tAirtable, pos: []string{"pat" + a(14) + "." + h(64)}, neg: []string{"pat" + a(13) + "." + h(64), "pat" + a(14) + "." + h(63)}},
		{typ: tMailchimp, pos: []string{h(32) + "-us12"}, neg: []string{h(31) + "-us12", h(32) + "-us123", h(32) + "-uk1"}},
		{typ: tSentryOrg, pos: []string{"sntrys_eyJ" + a(120)}, neg: []string{"sntrys_eyJ" + a(20)}},
		{typ: tSentryUser, pos: []string{"sntryu_" + h(64)}, neg: []string{"sntryu_" + h(63)}},
		{typ: tContentful, pos: []string{"CFPAT-" + w(43)}, neg: []string{"CFPAT-" + w(42)}},
		{typ: tTypeform, pos: []string{"tfp_" + w(44) + "_" + w(14)}, neg: []string{"tfp_" + w(20)}},
		{typ: tSquareAT, pos: []string{"sq0atp-" + w(22)}, neg: []string{"sq0atp-" + w(21)}},
		{typ: tSquareSec, pos: []string{"sq0csp-" + w(43)}, neg: []string{"sq0csp-" + w(42)}},
		{typ: tBraintree, pos: []string{"access_token$production$" + g.s(chLowerDig, 16) + "$" + h(32)}, neg: []string{"access_token$production$" + g.s(chLowerDig, 16) + "$" + h(31)}},
		{typ: tFacebook, pos: []string{"EAACEdEose0cBA" + a(120)}, neg: []string{"EAACEdEose0cBA" + a(50)}},
		{typ: tTwitterBearer, pos: []string{strings.Repeat("A", 21) + "MLheAAAAAAAA" + a(80) + "%3D"}, neg: []string{strings.Repeat("A", 120)}},
		{typ: tMapbox, pos: []string{"sk.eyJ" + w(80) + "." + w(22)}, neg: []string{"pk.eyJ" + w(80) + "." + w(22), "sk.eyJ" + w(20) + "." + w(22)}},
		{typ: tDropbox, pos: []string{"sl." + w(140)}, neg: []string{"sl." + w(100)}},
		{typ: tShippo, pos: []string{"shippo_live_" + h(40), "shippo_test_" + h(40)}, neg: []string{"shippo_live_" + h(39)}},
		{typ: tDuffel, pos: []string{"duffel_test_" + w(43)}, neg: []string{"duffel_test_" + w(42)}},
		{typ: tEasyPost, pos: []string{"EZAK" + a(54), "EZTK" + a(54)}, neg: []string{"EZAK" + a(53)}},
		{typ: tFlutterwave, pos: []string{"FLWSECK-" + h(32) + "-X", "FLWSECK_TEST-" + h(32) + "-X"}, neg: []string{"FLWSECK-" + h(31) + "-X"}},
		{typ: tPlaid, pos: []string{"access-sandbox-12345678-abcd-ef01-2345-6789abcdef01"}, neg: []string{"access-staging-12345678-abcd-ef01-2345-6789abcdef01"}},
		{typ: tSalesforce, pos: []string{"00D" + a(15) + "!" + a(100)}, neg: []string{"00D" + a(15) + "!" + a(40), "00D" + a(15) + "?" + a(100)}},
		{typ: tAdobe, pos: []string{"p8e-" + w(32)}, neg: []string{"p8e-" + w(31)}},
		{typ: tOnePassSA, pos: []string{"ops_eyJ" + a(200)}, neg: []string{"ops_eyJ" + a(50)}},
		{typ: tOnePassSK, pos: []string{"A3-" + g.s(chUpperDig, 6) + "-" + g.s(chUpperDig, 6) + "-" + g.s(chUpperDig, 5) + "-" + g.s(chUpperDig, 5) + "-" + g.s(chUpperDig, 5) + "-" + g.s(chUpperDig, 5)},
			neg: []string{"A3-" + g.s(chUpperDig, 6) + "-" + g.s(chUpperDig, 6) + "-" + g.s(chUpperDig, 5) + "-" + g.s(chUpperDig, 5) + "-" + g.s(chUpperDig, 5)}},
		{typ: tMaxmind, pos: []string{a(6) + "_" + a(29) + "_mmk"}, neg: []string{a(6) + "_" + a(28) + "_mmk"}},

		{typ: tOpenAIProject, pos: []string{"sk-proj-" + w(74) + "T3BlbkFJ" + w(74)}, neg: []string{"sk-proj-" + w(20)}},
		{typ: tOpenAISvc, pos: []string{"sk-svcacct-" + w(150)}, neg: []string{"sk-svcacct-" + w(30)}},
		{typ: tOpenAIAdmin, pos: []string{"sk-admin-" + w(150)}, neg: []string{"sk-admin-" + w(30)}},
		{typ: tOpenAILegacy, pos: []string{"sk-" + a(20) + "T3BlbkFJ" + a(20)}, neg: []string{"sk-" + a(19) + "T3BlbkFJ" + a(20), "sk-" + a(20) + "T3BlbkFX" + a(20)}},
		{typ: tAnthropicAPI, pos: []string{"sk-ant-api03-" + w(93) + "AA"}, neg: []string{"sk-ant-api03-" + w(93) + "BB", "sk-ant-api03-" + w(80) + "AA"}},
		{typ: tAnthropicAdm, pos: []string{"sk-ant-admin01-" + w(93) + "AA"}, neg: []string{"sk-ant-admin01-" + w(92) + "AA"}},
		{typ: tAnthropicOAT, pos: []string{"sk-ant-oat01-" + w(95)}, neg: []string{"sk-ant-oat01-" + w(20)}},
		{typ: tAnthropicORT, pos: []string{"sk-ant-ort01-" + w(95)}, neg: []string{"sk-ant-ort01-" + w(20)}},
		{typ: tHF, pos: []string{"hf_" + g.s(chLetters, 34)}, neg: []string{"hf_" + g.s(chLetters, 33), "hf_" + g.s(chLetters, 30) + "1234"}},
		{typ: tHFOrg, pos: []string{"api_org_" + g.s(chLetters, 34)}, neg: []string{"api_org_" + g.s(chLetters, 35)}},
		{typ: tGroq, pos: []string{"gsk_" + a(52)}, neg: []string{"gsk_" + a(51)}},
		{typ: tReplicate, pos: []string{"r8_" + a(37)}, neg: []string{"r8_" + a(36)}},
		{typ: tPerplexity, pos: []string{"pplx-" + a(48)}, neg: []string{"pplx-" + a(47)}},
		{typ: tXAI, pos: []string{"xai-" + a(80)}, neg: []string{"xai-" + a(79)}},
		{typ: tLangSmith, pos: []string{"lsv2_pt_" + h(32) + "_" + h(10), "lsv2_sk_" + h(32) + "_" + h(10)}, neg: []string{"lsv2_pt_" + h(31) + "_" + h(10)}},
		{typ: tOpenRouter, pos: []string{"sk-or-v1-" + h(64)}, neg: []string{"sk-or-v1-" + h(63)}},
		{typ: tTavily, pos: []string{"tvly-" + a(32), "tvly-dev-" + a(32)}, neg: []string{"tvly-" + a(10)}},
		{typ: tFirecrawl, pos: []string{"fc-" + h(32)}, neg: []string{"fc-" + h(31), "fc-" + h(33)}},
		{typ: tPinecone, pos: []string{"pcsk_" + a(5) + "_" + a(60)}, neg: []string{"pcsk_" + a(20)}},
		{typ: tElevenLabs, pos: []string{"sk_" + h(48)}, neg: []string{"sk_" + h(47)}},

		func() fmtCase {
			body := a(30)
			ok := "npm_" + body + b62crc(body)
			return fmtCase{typ: tNPM, pos: []string{ok}, neg: []string{"npm_" + body + "AAAAAA", ok[:len(ok)-1]}}
		}(),
		{typ: tPyPI, pos: []string{"pypi-AgEIcHlwaS5vcmc" + w(150), "pypi-AgENdGVzdC5weXBpLm9yZw" + w(150)}, neg: []string{"pypi-AgEIcHlwaS5vcmc" + w(20)}},
		{typ: tDockerPAT, pos: []string{"dckr_pat_" + w(27)}, neg: []string{"dckr_pat_" + w(20)}},
		{typ: tDockerOAT, pos: []string{"dckr_oat_" + w(32)}, neg: []string{"dckr_oat_" + w(20)}},
		{typ: tRubyGems, pos: []string{"rubygems_" + h(48)}, neg: []string{"rubygems_" + h(47)}},
		{typ: tNuGet, pos: []string{"oy2" + g.s(chLowerDig, 43)}, neg: []string{"oy2" + g.s(chLowerDig, 42), "oy2" + g.s(chLowerDig, 40) + "ABC"}},
		{typ: tClojars, pos: []string{"CLOJARS_" + g.s(chLowerDig, 60)}, neg: []string{"CLOJARS_" + g.s(chLowerDig, 59)}},
		{typ: tJFrogKey, pos: []string{"AKCp" + a(69)}, neg: []string{"AKCp" + a(68)}},
		{typ: tJFrogRef, pos: []string{"cmVmdGtuOjAxOj" + g.s(chB64, 50)}, neg: []string{"cmVmdGtuOjAxOj" + g.s(chB64, 20)}},

		{typ: tVaultSvc, pos: []string{"hvs." + w(90)}, neg: []string{"hvs." + w(20)}},
		{typ: tVaultBatch, pos: []string{"hvb." + w(90)}, neg: []string{"hvb." + w(10)}},
		{typ: tVaultRecovery, pos: []string{"hvr." + w(30)}, neg: []string{"hvr." + w(10)}},
		{typ: tTFCloud, pos: []string{a(14) + ".atlasv1." + w(67)}, neg: []string{a(13) + ".atlasv1." + w(67), a(14) + ".atlasv1." + w(40)}},
		{typ: tDOPAT, pos: []string{"dop_v1_" + h(64)}, neg: []string{"dop_v1_" + h(63), "dop_v2_" + h(64)}},
		{typ: tDOOAuth, pos: []string{"doo_v1_" + h(64)}, neg: []string{"doo_v1_" + h(65)}},
		{typ: tDORefresh, pos: []string{"dor_v1_" + h(64)}, neg: []string{"dor_v1_" + h(62) + "xy"}},
		{typ: tDatabricks, pos: []string{"dapi" + h(32), "dapi" + h(32) + "-2"}, neg: []string{"dapi" + h(31), "dapi" + h(30) + "zz"}},
		{typ: tGrafanaCloud, pos: []string{"glc_" + g.s(chB64, 120) + "=="}, neg: []string{"glc_" + g.s(chB64, 20)}},
		{typ: tGrafanaSA, pos: []string{"glsa_" + a(32) + "_" + h(8)}, neg: []string{"glsa_" + a(32) + "_" + h(7), "glsa_" + a(31) + "_" + h(8)}},
		{typ: tGrafanaKey, pos: []string{"eyJrIjoi" + g.s(chB64, 60) + "="}, neg: []string{"eyJrIjoi" + g.s(chB64, 20)}},
		{typ: tNRUser, pos: []string{"NRAK-" + g.s(chUpperDig, 27)}, neg: []string{"NRAK-" + g.s(chUpperDig, 26), "NRAK-" + strings.ToLower(g.s(chUpperDig, 27))}},
		{typ: tNRAdmin, pos: []string{"NRAA-" + g.s(chUpperDig, 27)}, neg: []string{"NRAA-" + g.s(chUpperDig, 28)}},
		{typ: tNRInsert, pos: []string{"NRII-" + w(32)}, neg: []string{"NRII-" + w(31)}},
		{typ: tNRQuery, pos: []string{"NRIQ-" + w(32)}, neg: []string{"NRIQ-" + w(33)}},
		{typ: tNRBrowser, pos: []string{"NRJS-" + h(19)}, neg: []string{"NRJS-" + h(18)}},
		{typ: tNRLicense, pos: []string{h(36) + "NRAL"}, neg: []string{h(35) + "NRAL", h(36) + "NRAX"}},
		{typ: tTelegram, pos: []string{"123456789:AA" + w(33)}, neg: []string{"123456789:AA" + w(32), "1234567:AA" + w(33), "123456789:AB" + w(33)}},
		{typ: tHeroku, pos: []string{"HRKU-AA" + w(58)}, neg: []string{"HRKU-AA" + w(57)}},
		{typ: tPulumi, pos: []string{"pul-" + h(40)}, neg: []string{"pul-" + h(39)}},
		{typ: tDoppler, pos: []string{"dp.pt." + a(43), "dp.st.dev." + a(43)}, neg: []string{"dp.pt." + a(30), "dp.xx." + a(43)}},
		{typ: tFlyio, pos: []string{"fo1_" + w(43)}, neg: []string{"fo1_" + w(42)}},
		{typ: tPlanetScale, pos: []string{"pscale_tkn_" + w(43), "pscale_pw_" + w(43), "pscale_oauth_" + w(32)}, neg: []string{"pscale_tkn_" + w(20)}},
		{typ: tSupabase, pos: []string{"sbp_" + h(40)}, neg: []string{"sbp_" + h(39)}},
		{typ: tSupabaseSec, pos: []string{"sb_secret_" + w(31)}, neg: []string{"sb_secret_" + w(10)}},
		{typ: tNeon, pos: []string{"napi_" + g.s(chLowerDig, 64)}, neg: []string{"napi_" + g.s(chLowerDig, 63)}},
		{typ: tCloudflareCA, pos: []string{"v1.0-" + h(24) + "-" + h(146)}, neg: []string{"v1.0-" + h(24) + "-" + h(145)}},
		{typ: tAlibaba, pos: []string{"LTAI" + a(20), "LTAI" + a(12)}, neg: []string{"LTAI" + a(11), "LTAI" + a(21)}},
		{typ: tDynatrace, pos: []string{"dt0c01." + g.s(chUpperDig, 24) + "." + g.s(chUpperDig, 64)}, neg: []string{"dt0c01." + g.s(chUpperDig, 23) + "." + g.s(chUpperDig, 64)}},
		{typ: tTailscale, pos: []string{"tskey-auth-k" + a(10) + "CNTRL-" + a(33), "tskey-api-" + a(12) + "-" + a(30)}, neg: []string{"tskey-foo-" + a(12) + "-" + a(30)}},
		{typ: tPrefect, pos: []string{"pnu_" + a(36)}, neg: []string{"pnu_" + a(35)}},
		{typ: tReadme, pos: []string{"rdme_" + g.s(chLowerDig, 70)}, neg: []string{"rdme_" + g.s(chLowerDig, 69)}},
		{typ: tFrameio, pos: []string{"fio-u-" + w(64)}, neg: []string{"fio-u-" + w(63)}},
		{typ: tOctopus, pos: []string{"API-" + g.s(chUpperDig, 26)}, neg: []string{"API-" + g.s(chUpperDig, 25), "api-" + g.s(chUpperDig, 26)}},
		{typ: tSourcegraph, pos: []string{"sgp_" + h(40), "sgp_" + h(16) + "_" + h(40), "sgp_local_" + h(40)}, neg: []string{"sgp_" + h(39)}},
		{typ: tResend, pos: []string{"re_" + a(8) + "_" + a(24)}, neg: []string{"re_" + a(8) + "_" + a(23)}},
		{typ: tBuildkite, pos: []string{"bkua_" + h(40)}, neg: []string{"bkua_" + h(39)}},
		{typ: tCircleCI, pos: []string{"CCIPAT_" + a(22) + "_" + h(40)}, neg: []string{"CCIPAT_" + a(22) + "_" + h(39)}},
		{typ: tInfracost, pos: []string{"ico-" + a(32)}, neg: []string{"ico-" + a(31)}},
		{typ: tDjango, pos: []string{"django-insecure-" + g.s("abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)", 50)}, neg: []string{"django-insecure-" + g.s(chLowerDig, 49)}},
		{typ: tAge, pos: []string{ageOK}, neg: []string{string(ageBad), ageOK[:len(ageOK)-1]}},

		{typ: tJWT, pos: []string{
			jwt(`{"alg":"HS256","typ":"JWT"}`, `{"sub":"agent-7","iat":1700000000}`),
			jwt(`{"alg":"RS256","kid":"k1"}`, `{"iss":"https://issuer.example","aud":"x"}`),
			b64(`{"alg":"none"}`) + "." + b64(`{"sub":"x"}`) + ".",
		}, neg: []string{
			b64(`{"nota":"jwt"}`) + "." + b64(`{"sub":"x"}`) + "." + w(43), // header without alg/typ
			b64(`{"alg":"HS256"}`) + "." + b64(`{"sub":"x"}`),              // two parts
			"eyJ" + w(40) + "." + w(40) + "." + w(40),                      // header is not JSON
		}},
		{typ: tPEM, pos: []string{pem("RSA PRIVATE KEY"), pem("EC PRIVATE KEY"), pem("DSA PRIVATE KEY"), pem("PRIVATE KEY"), pem("ENCRYPTED PRIVATE KEY")},
			neg: []string{pem("PUBLIC KEY"), pem("CERTIFICATE"), pem("RSA PUBLIC KEY")}},
		{typ: tOpenSSH, pos: []string{pem("OPENSSH PRIVATE KEY")}, neg: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + g.s(chB64, 43) + " user@host"}},
		{typ: tPGP, pos: []string{pem("PGP PRIVATE KEY BLOCK")}, neg: []string{pem("PGP PUBLIC KEY BLOCK")}},
		{typ: tPuTTY, pos: []string{putty}, want: []string{puttyPriv}, neg: []string{"PuTTY-User-Key-File-3: ssh-ed25519\nPublic-Lines: 2\n" + g.s(chB64, 64)}},
	}
	return cases
}

// contexts a token is embedded in for the positive checks.
var tokenContexts = []string{
	"%s",
	"token %s found",
	`{"value": "%s"}`,
	"echo '%s' | tool",
	"X=%s\n",
	"<t>%s</t>",
}

func TestFormats(t *testing.T) {
	d := det(t)
	seen := map[string]bool{}
	for _, c := range formatCases() {
		seen[c.typ] = true
		if TypeClass(c.typ) != ClassSecret {
			t.Errorf("%s: not a registered secret type", c.typ)
		}
		for i, tok := range c.pos {
			want := tok
			if c.want != nil {
				want = c.want[i]
			}
			for _, ctx := range tokenContexts {
				text := strings.Replace(ctx, "%s", tok, 1)
				fs := d.Find(text, nil)
				ok := false
				for _, f := range fs {
					if f.Type == c.typ && text[f.Start:f.End] == want {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s: positive %d not found as %q in %q:%s", c.typ, i, want, text, show(text, fs))
				}
			}
		}
		for i, tok := range c.neg {
			text := "value " + tok + " end"
			if fs := d.Find(text, nil); len(fs) != 0 {
				t.Errorf("%s: near miss %d reported in %q:%s", c.typ, i, text, show(text, fs))
			}
		}
	}
	// every format type has a case
	for _, ti := range Types() {
		if ti.Kind == KindFormat && !seen[ti.ID] {
			t.Errorf("format type %s has no test case", ti.ID)
		}
	}
}

func TestFormatCount(t *testing.T) {
	n := 0
	for _, ti := range Types() {
		if ti.Kind == KindFormat {
			n++
		}
	}
	if n < 60 {
		t.Fatalf("%d known formats, want at least 60", n)
	}
	t.Logf("%d format types, %d types in all", n, len(Types()))
}

// GitHub checksums: a token must verify against the CRC32 computed here, and
// any single-character change of the random part must be rejected.
func TestGitHubChecksum(t *testing.T) {
	g := newGen(7)
	for i := 0; i < 200; i++ {
		body := g.s(chAlnum, 30)
		tok := "ghp_" + body + b62crc(body)
		if !ghCRC(tok) {
			t.Fatalf("valid token rejected: %s", tok)
		}
		b := []byte(tok)
		k := 4 + g.r.IntN(30)
		orig := b[k]
		for b[k] == orig {
			b[k] = chAlnum[g.r.IntN(len(chAlnum))]
		}
		if ghCRC(string(b)) {
			t.Fatalf("mutated token accepted: %s", b)
		}
	}
	// zero padding of small checksums: base62Checksum pads to 6 characters
	for _, p := range []string{"", "a", "abc"} {
		if got, want := string(func() []byte { s := base62Checksum(p); return s[:] }()), b62crc(p); got != want {
			t.Errorf("checksum(%q) = %s, want %s", p, got, want)
		}
	}
}
