package auditrecord

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestCheckValue(t *testing.T) {
	outcome, ok := AttributeSpecOf(AttrOutcome)
	require.True(t, ok)
	risk, ok := AttributeSpecOf("agent_audit.risk_score")
	require.True(t, ok)
	for _, tc := range []struct {
		spec *AttributeSpec
		v    pcommon.Value
		want string
	}{
		{outcome, pcommon.NewValueStr("success"), ""},
		{outcome, pcommon.NewValueStr("ok"), `must be one of success, failure, unknown, got "ok"`},
		{outcome, pcommon.NewValueInt(1), "must be a string, got an integer"},
		{risk, pcommon.NewValueInt(50), ""},
		{risk, pcommon.NewValueInt(101), "must be between 0 and 100, got 101"},
		{&AttributeSpec{Type: TypeDouble}, pcommon.NewValueInt(1), "must be a number, got an integer"},
		{&AttributeSpec{Type: TypeDouble}, pcommon.NewValueDouble(1), ""},
		{&AttributeSpec{Type: TypeBool}, pcommon.NewValueStr("true"), "must be a boolean, got a string"},
		{&AttributeSpec{Type: TypeStringArray}, pcommon.NewValueEmpty(), "must be an array of strings, got an empty value"},
		{&AttributeSpec{Type: TypeAny}, pcommon.NewValueEmpty(), "must not be empty"},
	} {
		assert.Equal(t, tc.want, CheckValue(tc.spec, tc.v), "%s %v", tc.spec.Name, tc.v.AsRaw())
	}
	arr := pcommon.NewValueSlice()
	arr.Slice().AppendEmpty().SetStr("a")
	arr.Slice().AppendEmpty().SetInt(2)
	assert.Equal(t, "must be an array of strings, element 1 is an integer", CheckValue(&AttributeSpec{Type: TypeStringArray}, arr))
}

func TestEventSchema(t *testing.T) {
	et, specs, ok := EventSchema("agent_audit.tool.call")
	require.True(t, ok)
	assert.Equal(t, "agent_audit.tool.call", et.Name)
	assert.True(t, specs[AttrSessionID].Required, "common attributes apply")
	assert.Contains(t, specs, "gen_ai.tool.name")
	_, _, ok = EventSchema("agent_audit.no.such.event")
	assert.False(t, ok)
	_, ok = AttributeSpecOf("no.such.attribute")
	assert.False(t, ok)
}
