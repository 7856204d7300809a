package secrets

// ac is an Aho-Corasick automaton over ASCII-case-folded bytes, compiled to a
// full DFA with byte classes: scanning costs one table lookup per input byte
// and never backtracks. Patterns are the rules' literal anchors, in lower case.
//
// Transition entries hold the next state's row offset (state * nclass); the
// high bit flags states that end at least one pattern, so the scan loop only
// leaves its two-instruction path on a hit.
type ac struct {
	class  [256]uint8 // folded byte -> class; class 0 is "in no pattern"
	nclass uint32
	delta  []uint32   // row offset + class -> next entry
	out    [][]uint16 // per state: the patterns ending there (own and by suffix)
	plen   []int      // pattern lengths
	// tri is a bitset over the classes of three consecutive bytes: set when
	// some pattern starts with them (shorter patterns set every extension).
	// At the root state a position whose triple is not set cannot start a
	// match, so the scan skips it without touching the transition table.
	tri []uint64
	// c1, c2: the class of a byte times nclass^2 and nclass, so that a triple's
	// index is three independent lookups and two additions.
	c1, c2 [256]uint32
}

const acHit = 1 << 31

func buildAC(patterns []string) *ac {
	a := &ac{plen: make([]int, len(patterns))}
	// Byte classes: every distinct byte of the (lower-case) patterns.
	var used [256]bool
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			used[p[i]] = true
		}
	}
	n := uint8(1)
	var byteClass [256]uint8
	for c := 0; c < 256; c++ {
		if used[c] {
			byteClass[c] = n
			n++
		}
	}
	for c := 0; c < 256; c++ {
		a.class[c] = byteClass[lower(byte(c))]
	}
	a.nclass = uint32(n)

	// Trie.
	type node struct {
		next map[uint8]int
		fail int
		out  []uint16
	}
	nodes := []node{{next: map[uint8]int{}}}
	for pi, p := range patterns {
		a.plen[pi] = len(p)
		s := 0
		for i := 0; i < len(p); i++ {
			c := byteClass[p[i]]
			nx, ok := nodes[s].next[c]
			if !ok {
				nodes = append(nodes, node{next: map[uint8]int{}})
				nx = len(nodes) - 1
				nodes[s].next[c] = nx
			}
			s = nx
		}
		nodes[s].out = append(nodes[s].out, uint16(pi))
	}

	// Failure links (BFS) and the full transition table.
	nc := int(a.nclass)
	a.delta = make([]uint32, len(nodes)*nc)
	a.out = make([][]uint16, len(nodes))
	goTo := func(s int, c uint8) (int, bool) { nx, ok := nodes[s].next[c]; return nx, ok }
	queue := []int{0}
	order := []int{}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		order = append(order, s)
		for c := 0; c < nc; c++ {
			nx, ok := goTo(s, uint8(c))
			if !ok {
				continue
			}
			if s != 0 {
				f := nodes[s].fail
				for {
					if t, ok := goTo(f, uint8(c)); ok {
						nodes[nx].fail = t
						break
					}
					if f == 0 {
						nodes[nx].fail = 0
						break
					}
					f = nodes[f].fail
				}
			}
			queue = append(queue, nx)
		}
	}
	for _, s := range order {
		outs := append([]uint16(nil), nodes[s].out...)
		if s != 0 {
			outs = append(outs, a.out[nodes[s].fail]...)
		}
		a.out[s] = outs
	}
	for _, s := range order {
		for c := 0; c < nc; c++ {
			var t int
			if nx, ok := goTo(s, uint8(c)); ok && c != 0 {
				t = nx
			} else if s == 0 {
				t = 0
			} else {
				t = int(a.delta[nodes[s].fail*nc+c] &^ acHit / a.nclass)
			}
			v := uint32(t) * a.nclass
			if len(a.out[t]) > 0 {
				v |= acHit
			}
			a.delta[s*nc+c] = v
		}
	}
	for c := 0; c < 256; c++ {
		a.c1[c] = uint32(a.class[c]) * uint32(nc*nc)
		a.c2[c] = uint32(a.class[c]) * uint32(nc)
	}
	a.tri = make([]uint64, (nc*nc*nc+63)/64)
	set := func(c1, c2, c3 int) {
		k := (c1*nc+c2)*nc + c3
		a.tri[k/64] |= 1 << (k % 64)
	}
	for _, p := range patterns {
		c1 := int(byteClass[p[0]])
		for c2 := 0; c2 < nc; c2++ {
			if len(p) >= 2 && c2 != int(byteClass[p[1]]) {
				continue
			}
			for c3 := 0; c3 < nc; c3++ {
				if len(p) >= 3 && c3 != int(byteClass[p[2]]) {
					continue
				}
				set(c1, c2, c3)
			}
		}
	}
	return a
}

// states returns the number of DFA states (for tests and docs).
func (a *ac) states() int { return len(a.out) }
