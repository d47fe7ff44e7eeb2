package xz

// rcBit decodes one bit with probability v (an 11-bit value) without
// branching on the bit: literal and bit-tree bits are close to random, and a
// mispredicted branch costs more than the few extra instructions. It returns
// the new range, code and probability, and the bit. It must stay within the
// inliner's budget.
//
// The probability update p += (2048-p)>>5 for a 0 and p -= p>>5 for a 1 is
// folded into p -= (p-off)>>5 (arithmetic shift) with off = 2017 or 0:
// floor((p-2017)/32) == -floor((2048-p)/32) for every integer p.
func rcBit(rng, code, v uint32) (uint32, uint32, uint32, uint32) {
	bound := (rng >> probBits) * v
	m0 := uint32((int64(code) - int64(bound)) >> 63) // all ones when the bit is 0
	rng = bound + (rng-2*bound)&^m0
	code -= bound &^ m0
	v -= uint32(int32(v-2017&m0) >> moveBits)
	return rng, code, v, m0 + 1
}
