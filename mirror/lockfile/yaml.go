package lockfile

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"math"

	"go.yaml.in/yaml/v3"
)

// yamlLock reads a YAML lock, telling pixi.lock from conda-lock.yml by their top-level
// keys rather than by the file name, which people change.
func (p *parser) yamlLock(data []byte) error {
	const what = "is not a lock file condachan reads (a conda explicit file with an @EXPLICIT line, a pixi.lock or a conda-lock.yml)"
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return p.errorf(0, "", "%s: not YAML either: %v", what, err)
	}
	if err := aliasBound(&doc); err != nil {
		return p.errorf(0, "", "%v", err)
	}
	var root *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = deref(doc.Content[0])
	}
	switch {
	case get(root, "environments") != nil:
		p.format = PixiLock
		return p.pixi(root)
	case get(root, "package") != nil && get(root, "metadata") != nil:
		p.format = CondaLock
		return p.condaLock(root)
	case root != nil && root.Kind == yaml.ScalarNode && bytes.Contains(data, []byte("://")):
		// Lines of URLs read as one YAML string: an explicit file without its marker.
		return p.errorf(0, "", "lists URLs but has no @EXPLICIT line, which conda requires of explicit files; write it with `conda list --explicit --md5`")
	}
	return p.errorf(0, "", "%s", what)
}

// maxAliasNodes bounds the nodes YAML aliases (*name) may add to a document: a small file
// can otherwise name one big list millions of times, and walking it would not end. Lock
// writers do not use aliases at all.
const maxAliasNodes = 1 << 22

// aliasBound refuses documents whose aliases stand for more than maxAliasNodes nodes, or
// for a node that contains them. Anchored nodes' sizes are memoized (aliases only name
// those), so this visits each node of the document once.
func aliasBound(doc *yaml.Node) error {
	const busy = -1
	anchored, nodes := map[*yaml.Node]int{}, 0
	var size func(n *yaml.Node) (int, error)
	size = func(n *yaml.Node) (int, error) {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if s, ok := anchored[n]; ok && s == busy {
			return 0, errors.New("a YAML alias stands for a node that contains it")
		} else if ok {
			return s, nil
		}
		if n.Anchor != "" {
			anchored[n] = busy
		}
		nodes++
		total := 1
		for _, c := range n.Content {
			s, err := size(c)
			if err != nil {
				return 0, err
			}
			total = min(total+s, math.MaxInt32)
		}
		if n.Anchor != "" {
			anchored[n] = total
		}
		return total, nil
	}
	total, err := size(doc)
	if err == nil && total-nodes > maxAliasNodes {
		err = fmt.Errorf("YAML aliases expand it by more than %d entries; lock files do not use aliases", maxAliasNodes)
	}
	return err
}

// deref follows YAML aliases (*name) to the node they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i == 8 {
			return nil
		}
		n = n.Alias
	}
	return n
}

// pairs yields a mapping's scalar keys and values, in file order.
func pairs(m *yaml.Node) iter.Seq2[string, *yaml.Node] {
	return func(yield func(string, *yaml.Node) bool) {
		if m = deref(m); m == nil || m.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k := deref(m.Content[i])
			if k != nil && k.Kind == yaml.ScalarNode && !yield(k.Value, deref(m.Content[i+1])) {
				return
			}
		}
	}
}

// get is a mapping's value for key, nil when there is none.
func get(m *yaml.Node, key string) *yaml.Node {
	for k, v := range pairs(m) {
		if k == key {
			return v
		}
	}
	return nil
}

// str is a mapping's scalar value for key, "" when absent, null or not a scalar.
func str(m *yaml.Node, key string) string {
	v := get(m, key)
	if v == nil || v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
		return ""
	}
	return v.Value
}

// items is a sequence's elements, nil for anything else.
func items(n *yaml.Node) []*yaml.Node {
	if n = deref(n); n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// line is a node's line, 0 for none.
func line(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}
