package integrity

import "context"

// TreeHead is the state of a log after a batch was chained and made durable:
// what a checkpoint signs.
type TreeHead struct {
	LogID string
	Size  uint64
	Root  Hash
}

type treeHeadKey struct{}

// ContextWithTreeHead is how the chain processor tells the sign processor
// (next in the pipeline) which tree head a batch brings: the head travels
// with the batch in its context, so the two components share no state.
func ContextWithTreeHead(ctx context.Context, th TreeHead) context.Context {
	return context.WithValue(ctx, treeHeadKey{}, th)
}

// TreeHeadFromContext returns the tree head a batch brings, if any.
func TreeHeadFromContext(ctx context.Context) (TreeHead, bool) {
	th, ok := ctx.Value(treeHeadKey{}).(TreeHead)
	return th, ok
}
