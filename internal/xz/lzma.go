package xz

import (
	"encoding/binary"
	"errors"
)

// LZMA model constants (see the LZMA specification). Probabilities are 11-bit
// fixed-point values kept in uint16 so that the whole model of an lc=3 stream
// fits comfortably in L1 cache.
const (
	probBits       = 11
	probInit       = 1 << (probBits - 1)
	moveBits       = 5
	rcTop          = 1 << 24
	endPosModelIdx = 14
	matchLenMin    = 2

	// inBufSize is the size of the array holding one compressed LZMA2 chunk
	// (at most 64 KiB). It is a power of two larger than the biggest chunk
	// plus the most bytes a single LZMA symbol can consume, so the hot loop
	// can index it with a mask instead of a bounds check and still never
	// read outside the array, even on corrupt input.
	inBufSize = 1 << 17
	inBufMask = inBufSize - 1
)

// errCorrupt is wrapped with the block number by the reader.
var errCorrupt = errors.New("corrupt LZMA2 data")

// State transitions as tables: branches on the state are poorly predicted, a
// table load is not on the range decoder's critical path.
var (
	stateAfterLit      = [16]uint8{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 4, 5}
	stateAfterMatch    = [16]uint8{7, 7, 7, 7, 7, 7, 7, 10, 10, 10, 10, 10}
	stateAfterRep      = [16]uint8{8, 8, 8, 8, 8, 8, 8, 11, 11, 11, 11, 11}
	stateAfterShortRep = [16]uint8{9, 9, 9, 9, 9, 9, 9, 11, 11, 11, 11, 11}
)

type lenProbs struct {
	choice  uint16
	choice2 uint16
	low     [16][8]uint16
	mid     [16][8]uint16
	high    [256]uint16
}

// lzmaDec is the LZMA decoder state that survives between chunks. Array sizes
// are rounded up to powers of two where that lets the hot loop index with a
// mask instead of a bounds check.
type lzmaDec struct {
	isMatch    [256]uint16 // [state<<4 | posState]
	isRep      [16]uint16
	isRepG0    [16]uint16
	isRepG1    [16]uint16
	isRepG2    [16]uint16
	isRep0Long [256]uint16
	posSlot    [4][64]uint16
	posSpecial [128]uint16
	align      [16]uint16
	matchLen   lenProbs
	repLen     lenProbs
	literal    [0x300 << 4]uint16 // lc+lp <= 4 in LZMA2

	lc, lp, pb uint

	state                  uint32
	rep0, rep1, rep2, rep3 uint32
	pending                int // bytes of the current match not yet copied

	// Range decoder and its input: one whole compressed chunk.
	rng, code uint32
	ip        int // next byte of in
	inLen     int // compressed size of the chunk in in
	in        [inBufSize]byte
}

func (d *lzmaDec) setProps(props byte) error {
	if props >= 9*5*5 {
		return errCorrupt
	}
	lc := uint(props % 9)
	props /= 9
	lp := uint(props % 5)
	pb := uint(props / 5)
	if lc+lp > 4 {
		return errors.New("corrupt LZMA2 data: lc+lp exceeds 4")
	}
	d.lc, d.lp, d.pb = lc, lp, pb
	return nil
}

// resetState resets the probability model and the match history, as required
// by an LZMA2 state reset.
func (d *lzmaDec) resetState() {
	fill := func(s []uint16) {
		for i := range s {
			s[i] = probInit
		}
	}
	fill(d.isMatch[:])
	fill(d.isRep[:])
	fill(d.isRepG0[:])
	fill(d.isRepG1[:])
	fill(d.isRepG2[:])
	fill(d.isRep0Long[:])
	for i := range d.posSlot {
		fill(d.posSlot[i][:])
	}
	fill(d.posSpecial[:])
	fill(d.align[:])
	for _, l := range []*lenProbs{&d.matchLen, &d.repLen} {
		l.choice, l.choice2 = probInit, probInit
		for i := range l.low {
			fill(l.low[i][:])
			fill(l.mid[i][:])
		}
		fill(l.high[:])
	}
	fill(d.literal[:0x300<<(d.lc+d.lp)])
	d.state = 0
	d.rep0, d.rep1, d.rep2, d.rep3 = 0, 0, 0, 0
	d.pending = 0
}

// startChunk prepares the range decoder for the n compressed bytes already
// copied into d.in.
func (d *lzmaDec) startChunk(n int) error {
	if n < 5 || d.in[0] != 0 {
		return errCorrupt
	}
	d.inLen = n
	d.rng = 0xFFFFFFFF
	d.code = uint32(d.in[1])<<24 | uint32(d.in[2])<<16 | uint32(d.in[3])<<8 | uint32(d.in[4])
	d.ip = 5
	// Zero the tail so an over-reading corrupt chunk behaves
	// deterministically; the over-read itself is detected afterwards.
	clear(d.in[n : n+64])
	return nil
}

// finished reports whether the range decoder ended exactly at the end of the
// chunk, as it must at the end of every LZMA2 chunk.
func (d *lzmaDec) finished() bool {
	return d.ip == d.inLen && d.code == 0 && d.pending == 0
}

// decode decodes LZMA symbols into w until w.pos reaches limit. A match that
// crosses limit is left pending and completed by the next call.
//
// Everything the loop touches per bit lives in local variables: the range
// decoder is a long serial dependency chain and any trip through memory
// lengthens it.
func (d *lzmaDec) decode(w *window, limit int) error {
	buf := w.buf[:len(w.buf)]
	pos := w.pos
	bufLen := len(buf)
	if limit > bufLen {
		return errCorrupt
	}

	// Valid history is w.full bytes at entry and grows with pos; the match
	// distance check below uses fullBase+pos, capped by the dictionary size.
	fullBase := w.full - pos
	dictSize := w.dictSize

	if d.pending > 0 {
		n := d.pending
		if n > limit-pos {
			n = limit - pos
		}
		src := pos - int(d.rep0) - 1
		if src < 0 {
			src += bufLen
		}
		for i := 0; i < n; i++ {
			buf[pos] = buf[src]
			pos++
			src++
			if src == bufLen {
				src = 0
			}
		}
		d.pending -= n
		if d.pending > 0 {
			w.pos = pos
			return nil
		}
	}

	in := &d.in
	rng, code, ip := d.rng, d.code, d.ip
	inLimit := d.inLen
	state := d.state
	rep0, rep1, rep2, rep3 := d.rep0, d.rep1, d.rep2, d.rep3
	pbMask := uint32(1)<<d.pb - 1
	lpMask := uint32(1)<<d.lp - 1
	lc := d.lc
	var prev uint32
	if pos > 0 {
		prev = uint32(buf[pos-1])
	} else if w.full > 0 {
		prev = uint32(buf[bufLen-1])
	}

	var err error
	for pos < limit {
		if ip > inLimit {
			err = errCorrupt
			break
		}
		posState := uint32(pos) & pbMask

		// isMatch
		p := &d.isMatch[(state<<4|posState)&0xFF]
		bound := (rng >> probBits) * uint32(*p)
		if code < bound {
			rng = bound
			*p += (1<<probBits - *p) >> moveBits
			if rng < rcTop {
				rng <<= 8
				code = code<<8 | uint32(in[ip&inBufMask])
				ip++
			}

			// Literal.
			li := 0x300 * ((uint32(pos)&lpMask)<<lc | prev>>(8-lc))
			probs := (*[0x300]uint16)(d.literal[li : li+0x300])
			sym := uint32(1)
			if state < 7 {
				for sym < 0x100 {
					p := &probs[sym]
					var v, bit uint32
					rng, code, v, bit = rcBit(rng, code, uint32(*p))
					*p = uint16(v)
					sym = sym<<1 | bit
					if rng < rcTop {
						rng <<= 8
						code = code<<8 | uint32(in[ip&inBufMask])
						ip++
					}
				}
			} else {
				src := pos - int(rep0) - 1
				if src < 0 {
					src += bufLen
				}
				match := uint32(buf[src])
				offs := uint32(0x100)
				for sym < 0x100 {
					match <<= 1
					mbit := match & offs
					p := &probs[offs+mbit+sym]
					var v, bit uint32
					rng, code, v, bit = rcBit(rng, code, uint32(*p))
					*p = uint16(v)
					sym = sym<<1 | bit
					// Keep offs only while the decoded bits equal the
					// match byte's bits.
					offs &^= mbit ^ (0 - bit)
					if rng < rcTop {
						rng <<= 8
						code = code<<8 | uint32(in[ip&inBufMask])
						ip++
					}
				}
			}
			prev = sym & 0xFF
			buf[pos] = byte(sym)
			pos++
			state = uint32(stateAfterLit[state&15])
			continue
		}
		rng -= bound
		code -= bound
		*p -= *p >> moveBits
		if rng < rcTop {
			rng <<= 8
			code = code<<8 | uint32(in[ip&inBufMask])
			ip++
		}

		var length uint32
		var lp *lenProbs

		// isRep
		p = &d.isRep[state&15]
		bound = (rng >> probBits) * uint32(*p)
		if code < bound {
			rng = bound
			*p += (1<<probBits - *p) >> moveBits
			if rng < rcTop {
				rng <<= 8
				code = code<<8 | uint32(in[ip&inBufMask])
				ip++
			}
			// Plain match: the distance follows the length.
			rep3, rep2, rep1 = rep2, rep1, rep0
			state = uint32(stateAfterMatch[state&15])
			lp = &d.matchLen
		} else {
			rng -= bound
			code -= bound
			*p -= *p >> moveBits
			if rng < rcTop {
				rng <<= 8
				code = code<<8 | uint32(in[ip&inBufMask])
				ip++
			}
			p = &d.isRepG0[state&15]
			bound = (rng >> probBits) * uint32(*p)
			if code < bound {
				rng = bound
				*p += (1<<probBits - *p) >> moveBits
				if rng < rcTop {
					rng <<= 8
					code = code<<8 | uint32(in[ip&inBufMask])
					ip++
				}
				p = &d.isRep0Long[(state<<4|posState)&0xFF]
				bound = (rng >> probBits) * uint32(*p)
				if code < bound {
					rng = bound
					*p += (1<<probBits - *p) >> moveBits
					if rng < rcTop {
						rng <<= 8
						code = code<<8 | uint32(in[ip&inBufMask])
						ip++
					}
					// Short rep: a single byte at distance rep0.
					if int(rep0) >= dictSize || int(rep0) >= fullBase+pos {
						err = errCorrupt
						break
					}
					state = uint32(stateAfterShortRep[state&15])
					src := pos - int(rep0) - 1
					if src < 0 {
						src += bufLen
					}
					prev = uint32(buf[src])
					buf[pos] = byte(prev)
					pos++
					continue
				}
				rng -= bound
				code -= bound
				*p -= *p >> moveBits
				if rng < rcTop {
					rng <<= 8
					code = code<<8 | uint32(in[ip&inBufMask])
					ip++
				}
			} else {
				rng -= bound
				code -= bound
				*p -= *p >> moveBits
				if rng < rcTop {
					rng <<= 8
					code = code<<8 | uint32(in[ip&inBufMask])
					ip++
				}
				var dist uint32
				p = &d.isRepG1[state&15]
				bound = (rng >> probBits) * uint32(*p)
				if code < bound {
					rng = bound
					*p += (1<<probBits - *p) >> moveBits
					if rng < rcTop {
						rng <<= 8
						code = code<<8 | uint32(in[ip&inBufMask])
						ip++
					}
					dist = rep1
				} else {
					rng -= bound
					code -= bound
					*p -= *p >> moveBits
					if rng < rcTop {
						rng <<= 8
						code = code<<8 | uint32(in[ip&inBufMask])
						ip++
					}
					p = &d.isRepG2[state&15]
					bound = (rng >> probBits) * uint32(*p)
					if code < bound {
						rng = bound
						*p += (1<<probBits - *p) >> moveBits
						if rng < rcTop {
							rng <<= 8
							code = code<<8 | uint32(in[ip&inBufMask])
							ip++
						}
						dist = rep2
					} else {
						rng -= bound
						code -= bound
						*p -= *p >> moveBits
						if rng < rcTop {
							rng <<= 8
							code = code<<8 | uint32(in[ip&inBufMask])
							ip++
						}
						dist = rep3
						rep3 = rep2
					}
					rep2 = rep1
				}
				rep1 = rep0
				rep0 = dist
			}
			state = uint32(stateAfterRep[state&15])
			lp = &d.repLen
		}

		// Match length: choice bits select a 3-, 3- or 8-bit tree.
		{
			var probs []uint16
			var nbits uint
			p = &lp.choice
			bound = (rng >> probBits) * uint32(*p)
			if code < bound {
				rng = bound
				*p += (1<<probBits - *p) >> moveBits
				probs = lp.low[posState&15][:]
				nbits = 3
				length = 0
			} else {
				rng -= bound
				code -= bound
				*p -= *p >> moveBits
				if rng < rcTop {
					rng <<= 8
					code = code<<8 | uint32(in[ip&inBufMask])
					ip++
				}
				p = &lp.choice2
				bound = (rng >> probBits) * uint32(*p)
				if code < bound {
					rng = bound
					*p += (1<<probBits - *p) >> moveBits
					probs = lp.mid[posState&15][:]
					nbits = 3
					length = 8
				} else {
					rng -= bound
					code -= bound
					*p -= *p >> moveBits
					probs = lp.high[:]
					nbits = 8
					length = 16
				}
			}
			if rng < rcTop {
				rng <<= 8
				code = code<<8 | uint32(in[ip&inBufMask])
				ip++
			}
			sym := uint32(1)
			for i := uint(0); i < nbits; i++ {
				p := &probs[sym&0xFF]
				var v, bit uint32
				rng, code, v, bit = rcBit(rng, code, uint32(*p))
				*p = uint16(v)
				sym = sym<<1 | bit
				if rng < rcTop {
					rng <<= 8
					code = code<<8 | uint32(in[ip&inBufMask])
					ip++
				}
			}
			length += sym - 1<<nbits
		}

		if lp == &d.matchLen {
			// Distance: a 6-bit slot, then reverse-coded or direct bits.
			ls := length
			if ls > 3 {
				ls = 3
			}
			probs := &d.posSlot[ls]
			slot := uint32(1)
			for slot < 64 {
				p := &probs[slot&63]
				var v, bit uint32
				rng, code, v, bit = rcBit(rng, code, uint32(*p))
				*p = uint16(v)
				slot = slot<<1 | bit
				if rng < rcTop {
					rng <<= 8
					code = code<<8 | uint32(in[ip&inBufMask])
					ip++
				}
			}
			slot -= 64
			if slot < 4 {
				rep0 = slot
			} else {
				nd := slot>>1 - 1
				dist := (2 | slot&1) << nd
				if slot < endPosModelIdx {
					base := dist - slot - 1
					m := uint32(1)
					for i := uint32(0); i < nd; i++ {
						p := &d.posSpecial[(base+m)&127]
						var v, bit uint32
						rng, code, v, bit = rcBit(rng, code, uint32(*p))
						*p = uint16(v)
						m = m<<1 | bit
						dist |= bit << i
						if rng < rcTop {
							rng <<= 8
							code = code<<8 | uint32(in[ip&inBufMask])
							ip++
						}
					}
				} else {
					var direct uint32
					for i := nd - 4; i > 0; i-- {
						rng >>= 1
						code -= rng
						t := 0 - (code >> 31)
						code += rng & t
						direct = direct<<1 + (t + 1)
						if rng < rcTop {
							rng <<= 8
							code = code<<8 | uint32(in[ip&inBufMask])
							ip++
						}
					}
					dist += direct << 4
					m := uint32(1)
					for i := uint32(0); i < 4; i++ {
						p := &d.align[m&15]
						var v, bit uint32
						rng, code, v, bit = rcBit(rng, code, uint32(*p))
						*p = uint16(v)
						m = m<<1 | bit
						dist |= bit << i
						if rng < rcTop {
							rng <<= 8
							code = code<<8 | uint32(in[ip&inBufMask])
							ip++
						}
					}
				}
				rep0 = dist
			}
		}

		// Copy the match. Also rejects the end-of-payload marker
		// (distance 0xFFFFFFFF), which LZMA2 does not allow.
		if int(rep0) >= dictSize || int(rep0) >= fullBase+pos {
			err = errCorrupt
			break
		}
		n := int(length) + matchLenMin
		if n > limit-pos {
			d.pending = n - (limit - pos)
			n = limit - pos
		}
		src := pos - int(rep0) - 1
		if src < 0 {
			src += bufLen
		}
		if rep0 >= 7 && src+n+8 <= bufLen && pos+n+8 <= bufLen {
			// Eight bytes at a time. Each load reads only bytes already
			// written because the distance is at least 8; the last store
			// may run up to 7 bytes past the match, which is harmless:
			// the window has slack beyond the dictionary size, so those
			// bytes are out of reach until they are overwritten.
			if n <= 32 || int(rep0) < n {
				for i := 0; i < n; i += 8 {
					binary.LittleEndian.PutUint64(buf[pos+i:], binary.LittleEndian.Uint64(buf[src+i:]))
				}
			} else {
				copy(buf[pos:pos+n], buf[src:src+n])
			}
			pos += n
		} else if rep0 == 0 && pos+n+8 <= bufLen {
			// A run of one byte, common in binary data.
			v := uint64(buf[src]) * 0x0101010101010101
			for i := 0; i < n; i += 8 {
				binary.LittleEndian.PutUint64(buf[pos+i:], v)
			}
			pos += n
		} else {
			for i := 0; i < n; i++ {
				buf[pos] = buf[src]
				pos++
				src++
				if src == bufLen {
					src = 0
				}
			}
		}
		prev = uint32(buf[pos-1])
	}

	d.rng, d.code, d.ip = rng, code, ip
	d.state = state
	d.rep0, d.rep1, d.rep2, d.rep3 = rep0, rep1, rep2, rep3
	w.pos = pos
	if err == nil && ip > inLimit {
		err = errCorrupt
	}
	return err
}
