package secrets

import (
	"encoding/base64"
	"regexp"
	"strings"
)

// tokenSpec describes a token format that starts with a literal prefix.
// Either body/min/max (the prefix is followed by min..max bytes of body, and
// the run of body bytes must end there) or re (matched at the prefix, the
// pattern is anchored) describes the rest.
type tokenSpec struct {
	typ    string
	prefix string // the exact-case literal the token starts with; also its anchor
	fold   bool   // prefix is case-insensitive
	body   *charset
	min    int
	max    int
	re     *regexp.Regexp
	maxLen int               // longest match of re (the window it runs on)
	left   *charset          // bytes that must not precede the token (default csAlnum)
	right  *charset          // bytes that must not follow it (default csAlnum, plus body)
	check  func(string) bool // extra validation of the whole token (checksum, structure)
	// span selects the reported part of the match (default: all of it).
	span func(tok string) (int, int)
}

func pfx(typ, prefix string, body *charset, min, max int) *tokenSpec {
	return &tokenSpec{typ: typ, prefix: prefix, body: body, min: min, max: max}
}

func rx(typ, prefix, pattern string, maxLen int) *tokenSpec {
	return &tokenSpec{typ: typ, prefix: prefix, re: regexp.MustCompile(`^(?:` + pattern + `)`), maxLen: maxLen}
}

func (t *tokenSpec) withCheck(f func(string) bool) *tokenSpec { t.check = f; return t }
func (t *tokenSpec) withLeft(cs *charset) *tokenSpec          { t.left = cs; return t }
func (t *tokenSpec) withRight(cs *charset) *tokenSpec         { t.right = cs; return t }

// match reports the end of a token of this format at text[i:], or -1.
func (t *tokenSpec) match(text string, i int) int {
	if t.fold {
		if !hasPrefixFold(text, i, strings.ToLower(t.prefix)) {
			return -1
		}
	} else if !hasPrefixAt(text, i, t.prefix) {
		return -1
	}
	left := t.left
	if left == nil {
		left = csAlnum
	}
	if !leftOK(text, i, left) {
		return -1
	}
	var end int
	if t.re != nil {
		w := text[i:]
		if len(w) > t.maxLen {
			w = w[:t.maxLen]
		}
		loc := t.re.FindStringIndex(w)
		if loc == nil {
			return -1
		}
		end = i + loc[1]
	} else {
		p := i + len(t.prefix)
		end = runEnd(text, p, t.body, t.max+1)
		if n := end - p; n < t.min || n > t.max {
			return -1
		}
		if end < len(text) && t.body[text[end]] {
			return -1
		}
	}
	right := t.right
	if right == nil {
		right = csAlnum
	}
	if !rightOK(text, end, right) {
		return -1
	}
	if t.check != nil && !t.check(text[i:end]) {
		return -1
	}
	return end
}

func (t *tokenSpec) rule() *rule {
	return &rule{
		name:    t.typ,
		anchors: []string{t.prefix},
		types:   []string{t.typ},
		match: func(s *scan, start, _ int) {
			if end := t.match(s.text, start); end > 0 {
				a, b := start, end
				if t.span != nil {
					x, y := t.span(s.text[start:end])
					a, b = start+x, start+y
				}
				s.add(a, b, t.typ)
			}
		},
	}
}

// ghCRC checks the CRC32 base62 checksum of GitHub and npm tokens: the last 6
// characters are base62(crc32(the 30 characters between prefix and checksum)).
func ghCRC(tok string) bool {
	i := strings.IndexByte(tok, '_')
	return i >= 0 && checkBase62CRC(tok[i+1:])
}

// jwtHeaderOK decodes the first segment of a JWT and checks that it is a JSON
// object naming an algorithm or a type.
func jwtHeaderOK(tok string) bool {
	h, _, ok := strings.Cut(tok, ".")
	if !ok || len(h) > 2048 {
		return false
	}
	var buf [1536]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], []byte(strings.TrimRight(h, "=")))
	if err != nil {
		return false
	}
	js := string(buf[:n])
	return strings.HasPrefix(js, "{") && (strings.Contains(js, `"alg"`) || strings.Contains(js, `"typ"`) || strings.Contains(js, `"enc"`))
}

// Format types (registered here, in table order).
var (
	tGHClassic = secretFormat("github_pat_classic", "GitHub personal access token (classic): ghp_ + 30 base62 + 6-char base62 CRC32 checksum (verified)")
	tGHOAuth   = secretFormat("github_oauth_token", "GitHub OAuth access token: gho_ + 36, CRC32 checksum verified")
	tGHU2S     = secretFormat("github_user_to_server_token", "GitHub App user-to-server token: ghu_ + 36, CRC32 checksum verified")
	tGHS2S     = secretFormat("github_server_to_server_token", "GitHub App installation (server-to-server) token: ghs_ + 36, CRC32 checksum verified")
	tGHRefresh = secretFormat("github_refresh_token", "GitHub App refresh token: ghr_ + 36, CRC32 checksum verified")
	tGHFine    = secretFormat("github_pat_fine_grained", "GitHub fine-grained personal access token: github_pat_ + 22 + _ + 59 base62 (no public checksum)")

	tGLPAT      = secretFormat("gitlab_pat", "GitLab personal/project/group access token: glpat- + 20+ (incl. routable .01.xxx suffix)")
	tGLDeploy   = secretFormat("gitlab_deploy_token", "GitLab deploy token: gldt-")
	tGLRunner   = secretFormat("gitlab_runner_token", "GitLab runner authentication token: glrt-")
	tGLRunReg   = secretFormat("gitlab_runner_registration_token", "GitLab runner registration token: GR1348941")
	tGLTrigger  = secretFormat("gitlab_pipeline_trigger_token", "GitLab pipeline trigger token: glptt- + 40 hex")
	tGLJob      = secretFormat("gitlab_cicd_job_token", "GitLab CI/CD job token: glcbt-")
	tGLOAuth    = secretFormat("gitlab_oauth_app_secret", "GitLab OAuth application secret: gloas- + 64")
	tGLFeed     = secretFormat("gitlab_feed_token", "GitLab feed token: glft-")
	tGLMail     = secretFormat("gitlab_incoming_mail_token", "GitLab incoming mail token: glimt-")
	tGLAgent    = secretFormat("gitlab_agent_token", "GitLab agent for Kubernetes token: glagent-")
	tGLSCIM     = secretFormat("gitlab_scim_token", "GitLab SCIM OAuth token: glsoat-")
	tGLFeatFlag = secretFormat("gitlab_feature_flag_client_token", "GitLab feature flags client token: glffct-")

	tAWSKeyID   = secretFormat("aws_access_key_id", "AWS access key id: AKIA/ASIA/ABIA/ACCA + 16 base32 (A-Z2-7)")
	tAWSSession = secretFormat("aws_session_token", "AWS STS session token (IQoJb3JpZ2luX2Vj... / FwoGZXIvYXdz... base64, 100+)")
	tAWSBedrock = secretFormat("aws_bedrock_api_key", "Amazon Bedrock API key: ABSKQmVkcm9ja0FQSUtleS + base64")

	tGCPAPIKey     = secretFormat("gcp_api_key", "Google Cloud / Gemini / Firebase API key: AIza + 35")
	tGCPOAuthSec   = secretFormat("gcp_oauth_client_secret", "Google OAuth client secret: GOCSPX- + 28")
	tGCPAccess     = secretFormat("gcp_oauth_access_token", "Google OAuth access token: ya29. + 30+")
	tGCPRefresh    = secretFormat("gcp_oauth_refresh_token", "Google OAuth refresh token: 1// + 40+")
	tAzureADSecret = secretFormat("azure_ad_client_secret", "Microsoft Entra ID (Azure AD) client secret: xxxdQ~ + 31-34")
	tAzureDevOps   = secretFormat("azure_devops_pat", "Azure DevOps personal access token, 84-character format with AZDO signature")

	tSlackBot      = secretFormat("slack_bot_token", "Slack bot token: xoxb-")
	tSlackUser     = secretFormat("slack_user_token", "Slack user token: xoxp-")
	tSlackApp      = secretFormat("slack_app_token", "Slack app-level token: xapp-1-")
	tSlackConfig   = secretFormat("slack_config_token", "Slack configuration access token: xoxe.xoxp-1- / xoxe.xoxb-1-")
	tSlackRefresh  = secretFormat("slack_config_refresh_token", "Slack configuration refresh token: xoxe-1-")
	tSlackLegacy   = secretFormat("slack_legacy_token", "Slack legacy workspace / app / user token: xoxa-, xoxo-, xoxs-, xoxr-")
	tSlackWebhook  = secretFormat("slack_webhook_url", "path of a Slack incoming webhook / workflow URL (hooks.slack.com/services/T.../B.../...)")
	tDiscordHook   = secretFormat("discord_webhook_token", "token part of a Discord webhook URL (discord.com/api/webhooks/<id>/<token>)")
	tTeamsHook     = secretFormat("teams_webhook_url", "path of a Microsoft Teams incoming webhook URL (*.webhook.office.com/webhookb2/...)")
	tStripeLive    = secretFormat("stripe_secret_key", "Stripe live secret key: sk_live_")
	tStripeTest    = secretFormat("stripe_test_secret_key", "Stripe test secret key: sk_test_")
	tStripeRK      = secretFormat("stripe_restricted_key", "Stripe restricted key: rk_live_ / rk_test_")
	tStripeWebhook = secretFormat("stripe_webhook_secret", "Stripe webhook signing secret: whsec_")
	tTwilioKey     = secretFormat("twilio_api_key", "Twilio API key SID: SK + 32 hex")
	tSendGrid      = secretFormat("sendgrid_api_key", "SendGrid API key: SG.<22>.<43>")
	tShopifyAT     = secretFormat("shopify_access_token", "Shopify access token: shpat_ + 32 hex")
	tShopifyCA     = secretFormat("shopify_custom_app_token", "Shopify custom app access token: shpca_ + 32 hex")
	tShopifyPA     = secretFormat("shopify_private_app_token", "Shopify private app access token: shppa_ + 32 hex")
	tShopifySS     = secretFormat("shopify_shared_secret", "Shopify shared secret: shpss_ + 32 hex")
	tAtlassian     = secretFormat("atlassian_api_token", "Atlassian (Jira, Confluence, Bitbucket) API token: ATATT3 + ~186")
	tBitbucket     = secretFormat("bitbucket_app_password", "Bitbucket app password: ATBB + 32+")
	tLinearAPI     = secretFormat("linear_api_key", "Linear API key: lin_api_ + 40")
	tLinearOAuth   = secretFormat("linear_oauth_token", "Linear OAuth token: lin_oauth_ + 64 hex")
	tPostman       = secretFormat("postman_api_key", "Postman API key: PMAK-<24 hex>-<34 hex>")
	tFigma         = secretFormat("figma_pat", "Figma personal access token: figd_")
	tNotion        = secretFormat("notion_token", "Notion integration token: ntn_ + 46")
	tNotionLegacy  = secretFormat("notion_integration_secret", "Notion legacy integration secret: secret_ + 43")
	tAirtable      = secretFormat("airtable_pat", "Airtable personal access token: pat<14>.<64 hex>")
	tMailchimp     = secretFormat("mailchimp_api_key", "Mailchimp API key: 32 hex + -us<dc>")
	tSentryOrg     = secretFormat("sentry_org_token", "Sentry organization auth token: sntrys_eyJ...")
	tSentryUser    = secretFormat("sentry_user_token", "Sentry user auth token: sntryu_ + 64 hex")
	tContentful    = secretFormat("contentful_pat", "Contentful personal access token: CFPAT- + 43")
	tTypeform      = secretFormat("typeform_pat", "Typeform personal access token: tfp_")
	tSquareAT      = secretFormat("square_access_token", "Square access token: sq0atp- + 22")
	tSquareSec     = secretFormat("square_oauth_secret", "Square OAuth secret: sq0csp- + 43")
	tBraintree     = secretFormat("braintree_access_token", "Braintree / PayPal access token: access_token$production$...$...")
	tFacebook      = secretFormat("facebook_access_token", "Facebook / Meta access token: EAA + 100+")
	tTwitterBearer = secretFormat("twitter_bearer_token", "Twitter / X app bearer token: 21 A + 80-150")
	tMapbox        = secretFormat("mapbox_secret_token", "Mapbox secret token: sk.eyJ...")
	tDropbox       = secretFormat("dropbox_access_token", "Dropbox short-lived access token: sl. + 130+")
	tShippo        = secretFormat("shippo_api_token", "Shippo API token: shippo_live_ / shippo_test_ + 40 hex")
	tDuffel        = secretFormat("duffel_api_token", "Duffel API token: duffel_live_ / duffel_test_ + 43")
	tEasyPost      = secretFormat("easypost_api_key", "EasyPost API key: EZAK / EZTK + 54")
	tFlutterwave   = secretFormat("flutterwave_secret_key", "Flutterwave secret key: FLWSECK- / FLWSECK_TEST- + 32 hex + -X")
	tPlaid         = secretFormat("plaid_access_token", "Plaid access token: access-<env>-<uuid>")
	tSalesforce    = secretFormat("salesforce_access_token", "Salesforce session / access token: 00D<org id>!<80+>")
	tAdobe         = secretFormat("adobe_client_secret", "Adobe client secret: p8e- + 32")
	tOnePassSA     = secretFormat("onepassword_service_account_token", "1Password service account token: ops_eyJ...")
	tOnePassSK     = secretFormat("onepassword_secret_key", "1Password account secret key: A3-XXXXXX-...")
	tMaxmind       = secretFormat("maxmind_license_key", "MaxMind license key: <6>_<29>_mmk")

	tOpenAIProject = secretFormat("openai_project_key", "OpenAI project API key: sk-proj-")
	tOpenAISvc     = secretFormat("openai_service_account_key", "OpenAI service account key: sk-svcacct-")
	tOpenAIAdmin   = secretFormat("openai_admin_key", "OpenAI admin key: sk-admin-")
	tOpenAILegacy  = secretFormat("openai_legacy_key", "OpenAI legacy user key: sk- + 20 + T3BlbkFJ + 20")
	tAnthropicAPI  = secretFormat("anthropic_api_key", "Anthropic API key: sk-ant-api03- + 93 + AA")
	tAnthropicAdm  = secretFormat("anthropic_admin_key", "Anthropic admin API key: sk-ant-admin01- + 93 + AA")
	tAnthropicOAT  = secretFormat("anthropic_oauth_token", "Anthropic / Claude Code OAuth access token: sk-ant-oat01-")
	tAnthropicORT  = secretFormat("anthropic_oauth_refresh_token", "Anthropic OAuth refresh token: sk-ant-ort01-")
	tHF            = secretFormat("huggingface_token", "Hugging Face user access token: hf_ + 34 letters")
	tHFOrg         = secretFormat("huggingface_org_token", "Hugging Face organization token: api_org_ + 34 letters")
	tGroq          = secretFormat("groq_api_key", "Groq API key: gsk_ + 52")
	tReplicate     = secretFormat("replicate_api_token", "Replicate API token: r8_ + 37")
	tPerplexity    = secretFormat("perplexity_api_key", "Perplexity API key: pplx- + 48")
	tXAI           = secretFormat("xai_api_key", "xAI API key: xai- + 80")
	tLangSmith     = secretFormat("langsmith_api_key", "LangSmith API key: lsv2_pt_ / lsv2_sk_")
	tOpenRouter    = secretFormat("openrouter_api_key", "OpenRouter API key: sk-or-v1- + 64 hex")
	tTavily        = secretFormat("tavily_api_key", "Tavily API key: tvly-")
	tFirecrawl     = secretFormat("firecrawl_api_key", "Firecrawl API key: fc- + 32 hex")
	tPinecone      = secretFormat("pinecone_api_key", "Pinecone API key: pcsk_")
	tElevenLabs    = secretFormat("elevenlabs_api_key", "ElevenLabs API key: sk_ + 48 hex")

	tNPM       = secretFormat("npm_token", "npm access token: npm_ + 30 + 6-char base62 CRC32 checksum (verified)")
	tPyPI      = secretFormat("pypi_token", "PyPI / TestPyPI API token: pypi-AgEIcHlwaS5vcmc... macaroon")
	tDockerPAT = secretFormat("dockerhub_pat", "Docker Hub personal access token: dckr_pat_")
	tDockerOAT = secretFormat("dockerhub_oat", "Docker Hub organization access token: dckr_oat_")
	tRubyGems  = secretFormat("rubygems_api_key", "RubyGems API key: rubygems_ + 48 hex")
	tNuGet     = secretFormat("nuget_api_key", "NuGet API key: oy2 + 43")
	tClojars   = secretFormat("clojars_api_token", "Clojars deploy token: CLOJARS_ + 60")
	tJFrogKey  = secretFormat("jfrog_api_key", "JFrog Artifactory API key: AKCp + 69")
	tJFrogRef  = secretFormat("jfrog_identity_token", "JFrog reference / identity token: cmVmdGtuOjAxOj...")

	tVaultSvc      = secretFormat("vault_service_token", "HashiCorp Vault service token: hvs.")
	tVaultBatch    = secretFormat("vault_batch_token", "HashiCorp Vault batch token: hvb.")
	tVaultRecovery = secretFormat("vault_recovery_token", "HashiCorp Vault recovery token: hvr.")
	tTFCloud       = secretFormat("terraform_cloud_token", "Terraform Cloud / Enterprise API token: <14>.atlasv1.<60-70>")
	tDOPAT         = secretFormat("digitalocean_pat", "DigitalOcean personal access token: dop_v1_ + 64 hex")
	tDOOAuth       = secretFormat("digitalocean_oauth_token", "DigitalOcean OAuth token: doo_v1_ + 64 hex")
	tDORefresh     = secretFormat("digitalocean_refresh_token", "DigitalOcean refresh token: dor_v1_ + 64 hex")
	tDatabricks    = secretFormat("databricks_token", "Databricks personal access token: dapi + 32 hex")
	tGrafanaCloud  = secretFormat("grafana_cloud_token", "Grafana Cloud access policy token: glc_ + base64")
	tGrafanaSA     = secretFormat("grafana_service_account_token", "Grafana service account token: glsa_<32>_<8 hex>")
	tGrafanaKey    = secretFormat("grafana_api_key", "Grafana legacy API key: eyJrIjoi + base64")
	tNRUser        = secretFormat("newrelic_user_api_key", "New Relic user API key: NRAK- + 27")
	tNRAdmin       = secretFormat("newrelic_admin_api_key", "New Relic admin API key: NRAA- + 27")
	tNRInsert      = secretFormat("newrelic_insights_insert_key", "New Relic Insights insert key: NRII- + 32")
	tNRQuery       = secretFormat("newrelic_insights_query_key", "New Relic Insights query key: NRIQ- + 32")
	tNRBrowser     = secretFormat("newrelic_browser_key", "New Relic browser API token: NRJS- + 19 hex")
	tNRLicense     = secretFormat("newrelic_license_key", "New Relic ingest license key: 36 hex + NRAL")
	tTelegram      = secretFormat("telegram_bot_token", "Telegram bot token: <bot id>:AA + 33")
	tHeroku        = secretFormat("heroku_api_key", "Heroku API key: HRKU-AA + 58")
	tPulumi        = secretFormat("pulumi_access_token", "Pulumi access token: pul- + 40 hex")
	tDoppler       = secretFormat("doppler_token", "Doppler token: dp.pt. / dp.st. / dp.ct. / dp.sa. / dp.scim. / dp.audit.")
	tFlyio         = secretFormat("flyio_token", "Fly.io access token: fo1_ + 43")
	tPlanetScale   = secretFormat("planetscale_token", "PlanetScale service token / OAuth token / password: pscale_tkn_, pscale_oauth_, pscale_pw_")
	tSupabase      = secretFormat("supabase_access_token", "Supabase personal access token: sbp_ + 40 hex")
	tSupabaseSec   = secretFormat("supabase_secret_key", "Supabase secret API key: sb_secret_")
	tNeon          = secretFormat("neon_api_key", "Neon API key: napi_ + 64")
	tCloudflareCA  = secretFormat("cloudflare_origin_ca_key", "Cloudflare Origin CA key: v1.0-<24 hex>-<146 hex>")
	tAlibaba       = secretFormat("alibaba_access_key_id", "Alibaba Cloud AccessKey id: LTAI + 12-20")
	tDynatrace     = secretFormat("dynatrace_api_token", "Dynatrace API token: dt0c01.<24>.<64>")
	tTailscale     = secretFormat("tailscale_key", "Tailscale auth / API / OAuth key: tskey-<kind>-...")
	tPrefect       = secretFormat("prefect_api_key", "Prefect Cloud API key: pnu_ + 36")
	tReadme        = secretFormat("readme_api_token", "ReadMe API token: rdme_ + 70")
	tFrameio       = secretFormat("frameio_api_token", "Frame.io API token: fio-u- + 64")
	tOctopus       = secretFormat("octopus_api_key", "Octopus Deploy API key: API- + 26")
	tSourcegraph   = secretFormat("sourcegraph_token", "Sourcegraph access token: sgp_")
	tResend        = secretFormat("resend_api_key", "Resend API key: re_<8>_<24>")
	tBuildkite     = secretFormat("buildkite_token", "Buildkite agent / API token: bkua_ + 40 hex")
	tCircleCI      = secretFormat("circleci_pat", "CircleCI personal API token: CCIPAT_<22>_<40 hex>")
	tInfracost     = secretFormat("infracost_api_key", "Infracost API key: ico- + 32")
	tDjango        = secretFormat("django_secret_key", "Django generated SECRET_KEY: django-insecure- + 50")
	tAge           = secretFormat("age_secret_key", "age encryption secret key: AGE-SECRET-KEY-1 + 58 bech32 (bech32 checksum verified)")

	tJWT     = secretFormat("jwt", "JSON Web Token (JWS 3 parts or JWE 5 parts) whose header decodes to a JSON object with alg/typ/enc")
	tPEM     = secretFormat("pem_private_key", "PEM private key block: -----BEGIN [RSA|EC|DSA|ENCRYPTED|...] PRIVATE KEY----- to END")
	tOpenSSH = secretFormat("openssh_private_key", "OpenSSH private key block: -----BEGIN OPENSSH PRIVATE KEY-----")
	tPGP     = secretFormat("pgp_private_key", "PGP private key block: -----BEGIN PGP PRIVATE KEY BLOCK-----")
	tPuTTY   = secretFormat("putty_private_key", "PuTTY private key file (PuTTY-User-Key-File-2/3) private lines")
)

func tokenSpecs() []*tokenSpec {
	gh := func(typ, prefix string) *tokenSpec {
		return pfx(typ, prefix, csAlnum, 36, 36).withCheck(ghCRC)
	}
	word := csB64URL
	specs := []*tokenSpec{
		gh(tGHClassic, "ghp_"), gh(tGHOAuth, "gho_"), gh(tGHU2S, "ghu_"), gh(tGHS2S, "ghs_"), gh(tGHRefresh, "ghr_"),
		rx(tGHFine, "github_pat_", `github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}`, 100).withRight(csWord),

		rx(tGLPAT, "glpat-", `glpat-[A-Za-z0-9_-]{20,64}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,9})?`, 100),
		pfx(tGLDeploy, "gldt-", word, 20, 64),
		rx(tGLRunner, "glrt-", `glrt-[A-Za-z0-9_-]{20,64}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,9})?`, 100),
		pfx(tGLRunReg, "GR1348941", word, 20, 64),
		pfx(tGLTrigger, "glptt-", csHexLower, 40, 40),
		rx(tGLJob, "glcbt-", `glcbt-(?:[0-9a-fA-F]{1,5}_)?[A-Za-z0-9_-]{20,64}`, 100),
		pfx(tGLOAuth, "gloas-", word, 64, 64),
		pfx(tGLFeed, "glft-", word, 20, 64),
		pfx(tGLMail, "glimt-", word, 25, 64),
		pfx(tGLAgent, "glagent-", word, 50, 100),
		pfx(tGLSCIM, "glsoat-", word, 20, 64),
		pfx(tGLFeatFlag, "glffct-", word, 20, 64),

		pfx(tAWSKeyID, "AKIA", csAWSBase32, 16, 16),
		pfx(tAWSKeyID, "ASIA", csAWSBase32, 16, 16),
		pfx(tAWSKeyID, "ABIA", csAWSBase32, 16, 16),
		pfx(tAWSKeyID, "ACCA", csAWSBase32, 16, 16),
		pfx(tAWSSession, "IQoJb3JpZ2luX2Vj", csB64Pad, 100, 4096),
		pfx(tAWSSession, "FwoGZXIvYXdz", csB64Pad, 100, 4096),
		pfx(tAWSBedrock, "ABSKQmVkcm9ja0FQSUtleS", csB64Pad, 40, 2048),

		pfx(tGCPAPIKey, "AIza", word, 35, 35),
		pfx(tGCPOAuthSec, "GOCSPX-", word, 28, 28),
		pfx(tGCPAccess, "ya29.", word, 30, 2048),
		pfx(tGCPRefresh, "1//", word, 40, 512).withLeft(mkset("A-Za-z0-9/:")),

		rx(tSlackBot, "xoxb-", `xoxb-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24,34}`, 80),
		rx(tSlackUser, "xoxp-", `xoxp-[0-9]{10,13}-[0-9]{10,13}-[0-9]{10,13}-[a-f0-9]{32}`, 100),
		rx(tSlackApp, "xapp-", `xapp-1-[A-Z0-9]{9,11}-[0-9]{10,13}-[a-f0-9]{64}`, 100),
		rx(tSlackConfig, "xoxe.xox", `xoxe\.xox[bp]-1-[A-Za-z0-9]{150,200}`, 220),
		rx(tSlackRefresh, "xoxe-1-", `xoxe-1-[A-Za-z0-9]{130,170}`, 180),
		rx(tSlackLegacy, "xoxa-", `xoxa-[A-Za-z0-9-]{30,120}`, 130),
		rx(tSlackLegacy, "xoxo-", `xoxo-[A-Za-z0-9-]{30,120}`, 130),
		rx(tSlackLegacy, "xoxs-", `xoxs-[A-Za-z0-9-]{30,120}`, 130),
		rx(tSlackLegacy, "xoxr-", `xoxr-[A-Za-z0-9-]{30,120}`, 130),

		pfx(tStripeLive, "sk_live_", csAlnum, 24, 247),
		pfx(tStripeTest, "sk_test_", csAlnum, 24, 247),
		pfx(tStripeRK, "rk_live_", csAlnum, 24, 247),
		pfx(tStripeRK, "rk_test_", csAlnum, 24, 247),
		pfx(tStripeWebhook, "whsec_", csB64Pad, 24, 100),
		pfx(tTwilioKey, "SK", csHex, 32, 32),
		rx(tSendGrid, "SG.", `SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}`, 70).withRight(csB64URL),
		pfx(tShopifyAT, "shpat_", csHex, 32, 32),
		pfx(tShopifyCA, "shpca_", csHex, 32, 32),
		pfx(tShopifyPA, "shppa_", csHex, 32, 32),
		pfx(tShopifySS, "shpss_", csHex, 32, 32),
		pfx(tAtlassian, "ATATT3", mkset("A-Za-z0-9_=-"), 150, 250),
		pfx(tBitbucket, "ATBB", mkset("A-Za-z0-9"), 32, 64),
		pfx(tLinearAPI, "lin_api_", csAlnum, 40, 40),
		pfx(tLinearOAuth, "lin_oauth_", csHexLower, 64, 64),
		rx(tPostman, "PMAK-", `PMAK-[a-f0-9]{24}-[a-f0-9]{34}`, 70),
		pfx(tFigma, "figd_", word, 40, 64),
		pfx(tNotion, "ntn_", csAlnum, 46, 46),
		pfx(tNotionLegacy, "secret_", csAlnum, 43, 43).withLeft(csWord),
		rx(tAirtable, "pat", `pat[A-Za-z0-9]{14}\.[a-f0-9]{64}`, 90),
		pfx(tSentryUser, "sntryu_", csHexLower, 64, 64),
		rx(tSentryOrg, "sntrys_", `sntrys_eyJ[A-Za-z0-9+/=_]{50,400}`, 420),
		pfx(tContentful, "CFPAT-", word, 43, 43),
		pfx(tTypeform, "tfp_", mkset("A-Za-z0-9_.=-"), 44, 64),
		pfx(tSquareAT, "sq0atp-", word, 22, 22),
		pfx(tSquareSec, "sq0csp-", word, 43, 43),
		rx(tBraintree, "access_token$", `access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}`, 80),
		pfx(tFacebook, "EAA", csAlnum, 100, 400),
		pfx(tTwitterBearer, "AAAAAAAAAAAAAAAAAAAAA", mkset("A-Za-z0-9%"), 60, 150).withCheck(func(t string) bool {
			b := t[21:]
			return strings.IndexAny(b, "0123456789") >= 0 && strings.IndexAny(b, "abcdefghijklmnopqrstuvwxyz") >= 0
		}),
		rx(tMapbox, "sk.eyJ", `sk\.eyJ[A-Za-z0-9_-]{50,400}\.[A-Za-z0-9_-]{20,64}`, 480),
		pfx(tDropbox, "sl.", word, 130, 1400),
		pfx(tShippo, "shippo_live_", csHexLower, 40, 40),
		pfx(tShippo, "shippo_test_", csHexLower, 40, 40),
		pfx(tDuffel, "duffel_live_", mkset("A-Za-z0-9_=-"), 43, 43),
		pfx(tDuffel, "duffel_test_", mkset("A-Za-z0-9_=-"), 43, 43),
		pfx(tEasyPost, "EZAK", csAlnum, 54, 54),
		pfx(tEasyPost, "EZTK", csAlnum, 54, 54),
		rx(tFlutterwave, "FLWSECK", `FLWSECK(?:_TEST)?-[a-fA-F0-9]{32}-X`, 50),
		rx(tPlaid, "access-", `access-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`, 60),
		rx(tSalesforce, "00D", `00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{80,300}`, 320),
		pfx(tAdobe, "p8e-", mkset("A-Za-z0-9_-"), 32, 32),
		pfx(tOnePassSA, "ops_eyJ", mkset("A-Za-z0-9+/=_-"), 100, 2048),
		rx(tOnePassSK, "A3-", `A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}`, 50),

		pfx(tOpenAIProject, "sk-proj-", word, 40, 300),
		pfx(tOpenAISvc, "sk-svcacct-", word, 40, 300),
		pfx(tOpenAIAdmin, "sk-admin-", word, 40, 300),
		rx(tAnthropicAPI, "sk-ant-api03-", `sk-ant-api03-[A-Za-z0-9_-]{93}AA`, 110).withRight(csB64URL),
		rx(tAnthropicAdm, "sk-ant-admin01-", `sk-ant-admin01-[A-Za-z0-9_-]{93}AA`, 112).withRight(csB64URL),
		pfx(tAnthropicOAT, "sk-ant-oat01-", word, 40, 200),
		pfx(tAnthropicORT, "sk-ant-ort01-", word, 40, 200),
		pfx(tHF, "hf_", csLetters, 34, 34),
		pfx(tHFOrg, "api_org_", csLetters, 34, 34),
		pfx(tGroq, "gsk_", csAlnum, 52, 52),
		pfx(tReplicate, "r8_", csAlnum, 37, 37),
		pfx(tPerplexity, "pplx-", csAlnum, 48, 48),
		pfx(tXAI, "xai-", csAlnum, 80, 80),
		rx(tLangSmith, "lsv2_", `lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}`, 60),
		pfx(tOpenRouter, "sk-or-v1-", csHexLower, 64, 64),
		rx(tTavily, "tvly-", `tvly-(?:dev-|prod-)?[A-Za-z0-9]{20,64}`, 80),
		pfx(tFirecrawl, "fc-", csHexLower, 32, 32),
		pfx(tPinecone, "pcsk_", csWord, 40, 120),
		pfx(tElevenLabs, "sk_", csHexLower, 48, 48),

		pfx(tNPM, "npm_", csAlnum, 36, 36).withCheck(ghCRC),
		pfx(tPyPI, "pypi-AgEIcHlwaS5vcmc", word, 50, 1024),
		pfx(tPyPI, "pypi-AgENdGVzdC5weXBpLm9yZw", word, 50, 1024),
		pfx(tDockerPAT, "dckr_pat_", word, 24, 64),
		pfx(tDockerOAT, "dckr_oat_", word, 24, 64),
		pfx(tRubyGems, "rubygems_", csHexLower, 48, 48),
		pfx(tNuGet, "oy2", csLowerDig, 43, 43),
		pfx(tClojars, "CLOJARS_", csLowerDig, 60, 60),
		pfx(tJFrogKey, "AKCp", csAlnum, 69, 69),
		pfx(tJFrogRef, "cmVmdGtuOjAxOj", csB64Pad, 40, 200),

		pfx(tVaultSvc, "hvs.", word, 24, 255),
		pfx(tVaultBatch, "hvb.", word, 24, 255),
		pfx(tVaultRecovery, "hvr.", word, 24, 255),
		pfx(tDOPAT, "dop_v1_", csHexLower, 64, 64),
		pfx(tDOOAuth, "doo_v1_", csHexLower, 64, 64),
		pfx(tDORefresh, "dor_v1_", csHexLower, 64, 64),
		rx(tDatabricks, "dapi", `dapi[a-f0-9]{32}(?:-[0-9])?`, 40),
		rx(tGrafanaCloud, "glc_", `glc_[A-Za-z0-9+/]{32,400}={0,2}`, 410),
		rx(tGrafanaSA, "glsa_", `glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}`, 50),
		rx(tGrafanaKey, "eyJrIjoi", `eyJrIjoi[A-Za-z0-9+/]{30,400}={0,2}`, 410),
		pfx(tNRUser, "NRAK-", csUpperDig, 27, 27),
		pfx(tNRAdmin, "NRAA-", csUpperDig, 27, 27),
		pfx(tNRInsert, "NRII-", word, 32, 32),
		pfx(tNRQuery, "NRIQ-", word, 32, 32),
		pfx(tNRBrowser, "NRJS-", csHexLower, 19, 19),
		pfx(tHeroku, "HRKU-AA", word, 58, 58),
		pfx(tPulumi, "pul-", csHexLower, 40, 40),
		rx(tDoppler, "dp.", `dp\.(?:pt|st|ct|sa|scim|audit)\.(?:[a-z0-9_-]{1,32}\.)?[A-Za-z0-9]{40,44}`, 90),
		pfx(tFlyio, "fo1_", word, 43, 43),
		pfx(tPlanetScale, "pscale_tkn_", mkset("A-Za-z0-9_.-"), 32, 64),
		pfx(tPlanetScale, "pscale_oauth_", mkset("A-Za-z0-9_.-"), 32, 64),
		pfx(tPlanetScale, "pscale_pw_", mkset("A-Za-z0-9_.-"), 32, 64),
		pfx(tSupabase, "sbp_", csHexLower, 40, 40),
		pfx(tSupabaseSec, "sb_secret_", word, 20, 64),
		pfx(tNeon, "napi_", csLowerDig, 64, 64),
		rx(tCloudflareCA, "v1.0-", `v1\.0-[a-f0-9]{24}-[a-f0-9]{146}`, 180),
		pfx(tAlibaba, "LTAI", csAlnum, 12, 20),
		rx(tDynatrace, "dt0c01.", `dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}`, 100),
		rx(tTailscale, "tskey-", `tskey-(?:api|auth|client|scim|webhook)-[A-Za-z0-9]{6,}-[A-Za-z0-9]{16,64}`, 120),
		pfx(tPrefect, "pnu_", csAlnum, 36, 36),
		pfx(tReadme, "rdme_", csLowerDig, 70, 70),
		pfx(tFrameio, "fio-u-", mkset("A-Za-z0-9_=-"), 64, 64),
		pfx(tOctopus, "API-", csUpperDig, 26, 26),
		rx(tSourcegraph, "sgp_", `sgp_(?:(?:[a-fA-F0-9]{16}|local)_)?[a-fA-F0-9]{40}`, 70),
		rx(tResend, "re_", `re_[A-Za-z0-9]{8}_[A-Za-z0-9]{24}`, 40),
		pfx(tBuildkite, "bkua_", csHexLower, 40, 40),
		rx(tCircleCI, "CCIPAT_", `CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}`, 80),
		pfx(tInfracost, "ico-", csAlnum, 32, 32),
		pfx(tDjango, "django-insecure-", mkset("a-z0-9!@#$%^&*()_=+-"), 50, 50),
		rx(tAge, "AGE-SECRET-KEY-1", `AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}`, 80).withCheck(ageBech32OK),

		rx(tJWT, "eyJ", `eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){2,4}`, 16384).withLeft(csJWTLeft).withRight(csB64URL).withCheck(jwtShapeOK),
	}
	return specs
}

// jwtShapeOK: three (JWS) or five (JWE) segments, a payload, a JSON header.
func jwtShapeOK(tok string) bool {
	parts := strings.Count(tok, ".") + 1
	if parts != 3 && parts != 5 {
		return false
	}
	_, rest, _ := strings.Cut(tok, ".")
	payload, _, _ := strings.Cut(rest, ".")
	if len(payload) < 4 && parts == 3 {
		return false
	}
	return jwtHeaderOK(tok)
}

func tokenRules() []*rule {
	var rules []*rule
	for _, t := range tokenSpecs() {
		rules = append(rules, t.rule())
	}
	rules = append(rules, innerAnchorRules()...)
	rules = append(rules, privateKeyRules()...)
	rules = append(rules, webhookRules()...)
	return rules
}

// ageBech32OK verifies the bech32 checksum of an age secret key.
func ageBech32OK(tok string) bool {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	s := strings.ToLower(tok)
	sep := strings.LastIndexByte(s, '1')
	if sep < 1 || sep+7 > len(s) {
		return false
	}
	hrp, data := s[:sep], s[sep+1:]
	values := make([]byte, 0, 2*len(hrp)+1+len(data))
	for i := 0; i < len(hrp); i++ {
		values = append(values, hrp[i]>>5)
	}
	values = append(values, 0)
	for i := 0; i < len(hrp); i++ {
		values = append(values, hrp[i]&31)
	}
	for i := 0; i < len(data); i++ {
		v := strings.IndexByte(charset, data[i])
		if v < 0 {
			return false
		}
		values = append(values, byte(v))
	}
	return bech32Polymod(values) == 1
}

func bech32Polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := 0; i < 5; i++ {
			if (top>>uint(i))&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}
