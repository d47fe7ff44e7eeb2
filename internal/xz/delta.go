package xz

// deltaFilter undoes the Delta filter: each byte was stored as the
// difference from the byte dist positions earlier in the output.
type deltaFilter struct {
	dist int // 1..256
	hist [256]byte
	pos  uint8
}

func (f *deltaFilter) decode(b []byte) {
	d := uint8(f.dist)
	pos := f.pos
	for i := range b {
		// pos-d wraps modulo 256, which also handles dist 256.
		c := b[i] + f.hist[pos-d]
		f.hist[pos] = c
		b[i] = c
		pos++
	}
	f.pos = pos
}
