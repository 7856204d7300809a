package integrity

import (
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// LeafTree is a log's tree held as its leaf hashes, for the verifier side:
// roots at any size and inclusion and consistency proofs. Node hashes are
// computed on demand from the leaves (O(n) per proof), which is cheap next
// to reading the archive that supplied them.
type LeafTree struct {
	leaves [][]byte
}

// NewLeafTree wraps leaf hashes (RFC 6962 leaf hashes, as LeafHash returns).
func NewLeafTree(leaves [][]byte) *LeafTree { return &LeafTree{leaves: leaves} }

// Root is the root hash of the first size leaves.
func (t *LeafTree) Root(size uint64) Hash {
	l := NewMerkleLog()
	for _, leaf := range t.leaves[:size] {
		l.AppendLeafHash(leaf)
	}
	return l.Root()
}

// nodeHash is the hash of a node of the tree, a perfect subtree.
func (t *LeafTree) nodeHash(id compact.NodeID) []byte {
	if id.Level == 0 {
		return t.leaves[id.Index]
	}
	left := compact.NewNodeID(id.Level-1, id.Index*2)
	return hashChildren(t.nodeHash(left), t.nodeHash(left.Sibling()))
}

func (t *LeafTree) build(nodes proof.Nodes, size uint64) ([][]byte, error) {
	if size > uint64(len(t.leaves)) {
		return nil, fmt.Errorf("tree size %d is beyond the %d leaves known", size, len(t.leaves))
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		hashes[i] = t.nodeHash(id)
	}
	return nodes.Rehash(hashes, hashChildren)
}

// InclusionProof is the RFC 6962 inclusion proof of leaf index in the tree
// of the given size.
func (t *LeafTree) InclusionProof(index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	return t.build(nodes, size)
}

// ConsistencyProof is the RFC 6962 consistency proof between two sizes.
func (t *LeafTree) ConsistencyProof(size1, size2 uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	return t.build(nodes, size2)
}
