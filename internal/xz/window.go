package xz

// window is the LZMA dictionary: a circular buffer that the decoder writes
// into directly and that the Reader hands out slices of, so decoded bytes are
// copied at most once (into the caller's buffer, or not at all with WriteTo).
//
// The buffer starts small and doubles up to maxSize before it first wraps, so
// a tiny file with a 64 MiB dictionary in its header does not cost 64 MiB.
// Its length is always a multiple of 16 so that pos also serves as the
// position used for the LZMA pos_state and literal-position contexts.
type window struct {
	buf      []byte
	pos      int // next write position in buf
	full     int // bytes of valid history, at most dictSize
	dictSize int
	maxSize  int
}

const initialWindow = 256 << 10

// windowSlack lets match copies store whole 8-byte words past the end of a
// match: the bytes they clobber are more than dictSize back from any later
// position until they are rewritten. A multiple of 16 (see window).
const windowSlack = 64

// reset starts a new block with the given dictionary size.
func (w *window) reset(dictSize int) {
	w.dictSize = dictSize
	w.maxSize = dictSize + windowSlack
	w.pos = 0
	w.full = 0
	if w.buf == nil {
		w.buf = make([]byte, min(initialWindow, w.maxSize))
	}
	// A buffer kept from an earlier block may be larger than this block's
	// dictionary; shrinking the slice keeps the wrap-around consistent.
	if len(w.buf) > w.maxSize {
		w.buf = w.buf[:w.maxSize]
	}
}

// dictReset forgets all history, as an LZMA2 dictionary reset requires.
// Callers only do this when everything decoded so far has been handed out.
func (w *window) dictReset() {
	w.pos = 0
	w.full = 0
}

// makeRoom is called when pos has reached the end of buf: grow the buffer if
// it has not reached its final size yet, otherwise wrap around. Only called
// when all decoded data has been consumed.
func (w *window) makeRoom() {
	if len(w.buf) < w.maxSize {
		n := min(w.maxSize, 2*len(w.buf))
		if cap(w.buf) >= n {
			w.buf = w.buf[:n]
		} else {
			nb := make([]byte, n)
			copy(nb, w.buf[:w.pos])
			w.buf = nb
		}
		return
	}
	w.pos = 0
}

// advance records that n more bytes of history were written.
func (w *window) advance(n int) {
	w.full += n
	if w.full > w.dictSize {
		w.full = w.dictSize
	}
}
