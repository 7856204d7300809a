package scrubprocessor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// A secret map key in the body, whose action is drop_record, drops the
// record: the body is walked like attributes, keys included.
func TestReviewBodyMapSecretKeyDropRecord(t *testing.T) {
	p, sink, tel := newScrub(t, func(c *Config) { c.Actions = map[string]Action{"secret": ActionDropRecord} })
	for name, build := range map[string]func(pcommon.Map){
		"top":    func(m pcommon.Map) { m.PutBool(stripeKey, true) },
		"nested": func(m pcommon.Map) { m.PutEmptyMap("tokens").PutStr(stripeKey, "read") },
	} {
		t.Run(name, func(t *testing.T) {
			ld, lr := oneRecord("agent_audit.tool.call")
			build(lr.Body().SetEmptyMap())
			sink.Reset()
			require.NoError(t, p.ConsumeLogs(context.Background(), ld))
			for _, out := range sink.AllLogs() {
				assert.NotContains(t, allText(out), stripeKey)
			}
			assert.Empty(t, sink.AllLogs(), "the record is dropped")
		})
	}
	assert.Equal(t, int64(2), counter(t, tel, "otelcol_processor_scrub_records_dropped"))
}

// A value shaped like a content digest whose key id is a secret is not this
// processor's digest: content is digested, anything else is scanned.
func TestReviewForgedDigestKeyID(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	p, sink, tel := newScrub(t, nil)
	ld, lr := oneRecord("agent_audit.prompt")
	lr.Body().SetStr(contentMarker + stripeKey + ":" + hex64 + "]") // a Stripe key is exactly 32 characters
	lr.Attributes().PutStr("gen_ai.prompt", contentMarker+awsKeyID+":"+hex64+"]")
	// A digest under this processor's key id is left alone (scrubbing twice).
	own := contentMarker + "k1:" + hex64 + "]"
	lr.Attributes().PutStr("gen_ai.completion", own)
	out := firstRecord(consume(t, p, sink, ld))
	text := allText(sink.AllLogs()[0])
	assert.NotContains(t, text, stripeKey)
	assert.NotContains(t, text, awsKeyID)
	assert.True(t, isContentDigest(out.Body().Str()))
	assert.Equal(t, own, mustGet(out.Attributes(), "gen_ai.completion").Str())
	assert.Equal(t, int64(2), counter(t, tel, "otelcol_processor_scrub_content_digested"))
}

// A key that is a secret is replaced even when its value is a digest.
func TestReviewSecretKeyOverDigest(t *testing.T) {
	p, sink, _ := newScrub(t, nil)
	ld, lr := oneRecord("agent_audit.tool.call")
	lr.Attributes().PutStr(awsKeyID, contentMarker+"k1:"+strings.Repeat("cd", 32)+"]")
	out := firstRecord(consume(t, p, sink, ld))
	assert.NotContains(t, allText(sink.AllLogs()[0]), awsKeyID)
	assert.True(t, isContentDigest(mustGet(out.Attributes(), "[REDACTED:aws_access_key_id]").Str()))
	assert.Equal(t, map[string]int64{"aws_access_key_id": 1}, report(t, out))
}

// The report attribute is left alone only when it is a report: finding type
// -> count. A "count" that is a card number or an SSN is not a count.
func TestReviewReportAttributeHidesNumbers(t *testing.T) {
	p, sink, _ := newScrub(t, nil)
	ld, lr := oneRecord("agent_audit.tool.call")
	r := lr.Attributes().PutEmptyMap(defaultReportAttribute)
	r.PutInt("pii_payment_card", 4111111111111111)
	r.PutInt("pii_us_ssn", 123456789)
	out := firstRecord(consume(t, p, sink, ld))
	text := allText(sink.AllLogs()[0])
	assert.NotContains(t, text, cardNumber)
	assert.NotContains(t, text, "123456789")
	assert.Equal(t, map[string]int64{"pii_payment_card": 1, "pii_us_ssn": 1}, report(t, out))

	// An upstream report with ordinary counts is still added to.
	ld, lr = oneRecord("agent_audit.tool.call")
	lr.Attributes().PutEmptyMap(defaultReportAttribute).PutInt("pii_email", 2)
	lr.Body().SetStr("mail " + emailAddr)
	assert.Equal(t, map[string]int64{"pii_email": 3}, report(t, firstRecord(consume(t, p, sink, ld))))
}

// The integrity attributes are part of what reaches the archive; a client
// can set them. An honest value holds nothing to find and stays.
func TestReviewIntegrityAttributesScanned(t *testing.T) {
	p, sink, tel := newScrub(t, nil)
	ld, lr := oneRecord("agent_audit.tool.call")
	lr.Attributes().PutStr(integrity.AttrLogID, "gw-1/"+awsKeyID)
	lr.Attributes().PutStr(integrity.AttrRecordDigest, strings.Repeat("ab", 32))
	lr.Attributes().PutStr(integrity.AttrStreamID, "5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830")
	lr.Attributes().PutInt(integrity.AttrSequenceNumber, 7)
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr(integrity.AttrPrevHash, stripeKey)
	out := firstRecord(consume(t, p, sink, ld))
	text := allText(sink.AllLogs()[0])
	assert.NotContains(t, text, awsKeyID)
	assert.NotContains(t, text, stripeKey)
	assert.Equal(t, strings.Repeat("ab", 32), mustGet(out.Attributes(), integrity.AttrRecordDigest).Str())
	assert.Equal(t, "5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830", mustGet(out.Attributes(), integrity.AttrStreamID).Str())
	assert.Equal(t, int64(7), mustGet(out.Attributes(), integrity.AttrSequenceNumber).Int())
	assert.Equal(t, int64(1), counter(t, tel, "otelcol_processor_scrub_chained_records_altered"))
}

// A chained record whose resource held a finding was changed (its resource
// and its report are part of its canonical form): it counts as altered.
func TestReviewChainedRecordAlteredByResource(t *testing.T) {
	p, sink, tel := newScrub(t, nil)
	ld, lr := oneRecord("agent_audit.tool.call")
	lr.Attributes().PutStr(integrity.AttrLogID, "agent-7/1")
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("deploy.note", "key "+awsKeyID)
	out := firstRecord(consume(t, p, sink, ld))
	assert.Equal(t, map[string]int64{"aws_access_key_id": 1}, report(t, out))
	assert.Equal(t, int64(1), counter(t, tel, "otelcol_processor_scrub_chained_records_altered"))
}

// JSON numbers reach the collector as doubles too (the JSON parser of the
// filelog receiver): a card number is a card number.
func TestReviewDoubleValues(t *testing.T) {
	p, sink, _ := newScrub(t, nil)
	ld, lr := oneRecord("agent_audit.tool.call")
	lr.Attributes().PutDouble("card", 4111111111111111)
	lr.Attributes().PutDouble("ratio", 0.25)
	args := lr.Attributes().PutEmptyMap("gen_ai.tool.call.arguments")
	args.PutDouble("password", 20250101)
	out := firstRecord(consume(t, p, sink, ld))
	assert.Equal(t, "[REDACTED:pii_payment_card]", mustGet(out.Attributes(), "card").Str())
	assert.Equal(t, 0.25, mustGet(out.Attributes(), "ratio").Double())
	assert.Equal(t, "[REDACTED:password_assignment]",
		mustGet(mustGet(out.Attributes(), "gen_ai.tool.call.arguments").Map(), "password").Str())
	assert.Equal(t, map[string]int64{"pii_payment_card": 1, "password_assignment": 1}, report(t, out))
}

// Bytes that are not valid UTF-8 (a binary dump with text in it) are
// scanned too; they stay bytes.
func TestReviewInvalidUTF8Bytes(t *testing.T) {
	p, sink, _ := newScrub(t, nil)
	ld, lr := oneRecord("agent_audit.tool.call")
	lr.Attributes().PutEmptyBytes("dump").FromRaw([]byte("\xff\xfe\x00key=" + awsKeyID + "\x00\x80"))
	lr.Attributes().PutEmptyBytes("clean").FromRaw([]byte{0xff, 0x00, 0x01})
	out := firstRecord(consume(t, p, sink, ld))
	dump := mustGet(out.Attributes(), "dump")
	require.Equal(t, pcommon.ValueTypeBytes, dump.Type())
	assert.Equal(t, []byte("\xff\xfe\x00key=[REDACTED:aws_access_key_id]\x00\x80"), dump.Bytes().AsRaw())
	assert.Equal(t, []byte{0xff, 0x00, 0x01}, mustGet(out.Attributes(), "clean").Bytes().AsRaw())
	assert.Equal(t, map[string]int64{"aws_access_key_id": 1}, report(t, out))

	again := plog.NewLogs()
	sink.AllLogs()[0].CopyTo(again)
	assert.Equal(t, dump.Bytes().AsRaw(), mustGet(firstRecord(consume(t, p, sink, again)).Attributes(), "dump").Bytes().AsRaw(),
		"idempotent")
}

// Two keys that mask to the same text both stay: a rename never overwrites
// another entry.
func TestReviewRenamedKeysDoNotCollide(t *testing.T) {
	other := "AKIA" + "ZZYLPMN5HFIQR7AB"
	p, sink, _ := newScrub(t, nil)
	ld, lr := oneRecord("agent_audit.tool.call")
	perms := lr.Attributes().PutEmptyMap("grants")
	perms.PutStr(awsKeyID, "read")
	perms.PutStr(other, "write")
	perms.PutStr("[REDACTED:aws_access_key_id]", "already masked upstream")
	out := firstRecord(consume(t, p, sink, ld))
	got := mustGet(out.Attributes(), "grants").Map()
	assert.NotContains(t, allText(sink.AllLogs()[0]), other)
	assert.Equal(t, 3, got.Len())
	var values []string
	for _, v := range got.All() {
		values = append(values, v.Str())
	}
	assert.ElementsMatch(t, []string{"read", "write", "already masked upstream"}, values)

	again := plog.NewLogs()
	sink.AllLogs()[0].CopyTo(again)
	assert.Equal(t, allText(again), allText(consume(t, p, sink, again)), "idempotent")
}

// Concurrent batches share the pooled scratch state and HMAC hashes: every
// batch gets exactly its own findings and pseudonyms.
func TestReviewConcurrentBatches(t *testing.T) {
	key := testKey(t)
	p, sink, _ := newScrub(t, func(c *Config) { c.Actions = map[string]Action{"email": ActionHMAC} })
	const workers, rounds = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				ld, lr := oneRecord("agent_audit.tool.call")
				mail := fmt.Sprintf("user%d.%d@corp-example.com", w, i)
				lr.Body().SetStr("mail " + mail)
				if w%2 == 0 {
					lr.Attributes().PutStr("note", "key "+awsKeyID)
				}
				lr.Attributes().PutStr("worker", fmt.Sprint(w, "/", i))
				assert.NoError(t, p.ConsumeLogs(context.Background(), ld))
			}
		}()
	}
	wg.Wait()
	require.Len(t, sink.AllLogs(), workers*rounds)
	for _, ld := range sink.AllLogs() {
		lr := firstRecord(ld)
		var w, i int
		_, err := fmt.Sscanf(mustGet(lr.Attributes(), "worker").Str(), "%d/%d", &w, &i)
		require.NoError(t, err)
		mail := fmt.Sprintf("user%d.%d@corp-example.com", w, i)
		assert.Equal(t, "mail [HMAC:pii_email:k1:"+hmacHex(key, mail)[:32]+"]", lr.Body().Str())
		want := map[string]int64{"pii_email": 1}
		if w%2 == 0 {
			want["aws_access_key_id"] = 1
		}
		assert.Equal(t, want, report(t, lr))
	}
}

// One value with findings of different actions: per-finding replacement
// when none drops; the strongest wins otherwise, at any depth, and a key
// that is both renamed and dropped is simply gone.
func TestReviewMixedActions(t *testing.T) {
	key := testKey(t)
	p, sink, tel := newScrub(t, func(c *Config) {
		c.Actions = map[string]Action{"email": ActionHMAC}
		c.TypeActions = map[string]Action{"aws_access_key_id": ActionDropAttribute}
	})
	ld, lr := oneRecord("agent_audit.tool.call")
	lr.Attributes().PutStr("note", "mail "+emailAddr+" with "+stripeKey)
	args := lr.Attributes().PutEmptyMap("gen_ai.tool.call.arguments")
	args.PutEmptySlice("argv").AppendEmpty().SetStr("--key " + awsKeyID + " --to " + emailAddr)
	lr.Attributes().PutStr(stripeKey, "key "+awsKeyID) // renamed (mask) and dropped (value)
	out := firstRecord(consume(t, p, sink, ld))
	assert.Equal(t, "mail [HMAC:pii_email:k1:"+hmacHex(key, emailAddr)[:32]+"] with [REDACTED:stripe_secret_key]",
		mustGet(out.Attributes(), "note").Str())
	_, ok := out.Attributes().Get("gen_ai.tool.call.arguments")
	assert.False(t, ok)
	assert.Equal(t, []string{"agent_audit.scrub.findings", "note", "session.id"}, sortedKeys(out.Attributes()))
	assert.Equal(t, map[string]int64{"pii_email": 2, "stripe_secret_key": 2, "aws_access_key_id": 2}, report(t, out))
	assert.Equal(t, int64(2), counter(t, tel, "otelcol_processor_scrub_attributes_dropped"))
}

// Attributes decoded from the wire can repeat a key; every entry is
// scrubbed, not only the one Get returns.
func TestReviewDuplicateKeys(t *testing.T) {
	in := `{"resourceLogs":[{"resource":{},"scopeLogs":[{"logRecords":[{"eventName":"agent_audit.tool.call","attributes":[` +
		`{"key":"note","value":{"stringValue":"clean"}},{"key":"note","value":{"stringValue":"key ` + awsKeyID + `"}},` +
		`{"key":"` + stripeKey + `","value":{"intValue":"1"}},{"key":"` + stripeKey + `","value":{"intValue":"2"}},` +
		`{"key":"token","value":{"stringValue":"x"}},{"key":"token","value":{"stringValue":"` + slackBot + `"}}]}]}]}]}`
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(in))
	require.NoError(t, err)
	require.Equal(t, 6, firstRecord(ld).Attributes().Len())
	p, sink, _ := newScrub(t, func(c *Config) { c.TypeActions = map[string]Action{"slack_bot_token": ActionDropAttribute} })
	out := consume(t, p, sink, ld)
	text := allText(out)
	for _, secret := range []string{awsKeyID, stripeKey, slackBot} {
		assert.NotContains(t, text, secret)
	}
}

func sortedKeys(m pcommon.Map) []string {
	var keys []string
	for k := range m.All() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
