package pkgbuild

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/pkgbuild/condapkg"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// BenchmarkBuild measures the whole pipeline (xz decode, mapping, hashing, zstd, zip)
// on a generated 48 MiB archive of binary-like and text-like files. For the real-world
// comparison with conda-build and rattler-build, see bench/build.sh.
func BenchmarkBuild(b *testing.B) {
	dir := b.TempDir()
	rng := rand.New(rand.NewSource(1))
	tree := testkit.Tree{}
	words := []string{"render", "farm", "conda", "blender", "shader", "node", "socket", "\n"}
	for i := 0; i < 96; i++ {
		var buf bytes.Buffer
		for buf.Len() < 512<<10 {
			if i%2 == 0 { // binary-like: repeated blocks with noise
				chunk := make([]byte, 64)
				rng.Read(chunk[:8])
				buf.Write(chunk)
			} else {
				buf.WriteString(words[rng.Intn(len(words))] + " ")
			}
		}
		tree[fmt.Sprintf("lib/part%02d/file%03d.bin", i%8, i)] = testkit.Node{Data: buf.Bytes(), Mode: 0o755}
	}
	data := testkit.Compress(b, tree.Tar(b, testkit.TarOptions{Top: "bench-1.0"}), "xz", "-6")
	arch := testkit.WriteFile(b, dir, "bench-1.0.tar.xz", data)
	rdir := filepath.Join(dir, "recipe")
	os.MkdirAll(rdir, 0o755)
	testkit.WriteFile(b, rdir, recipe.FileName, []byte(urlRecipe("bench-1.0.tar.xz", testkit.SHA256(data), "")))
	var unpacked int64
	for _, n := range tree {
		unpacked += int64(len(n.Data))
	}
	for _, level := range []condapkg.Level{condapkg.LevelFast, condapkg.LevelDefault, condapkg.LevelMax} {
		b.Run(level.String(), func(b *testing.B) {
			b.SetBytes(unpacked)
			b.ReportAllocs()
			var size int64
			for i := 0; i < b.N; i++ {
				r, err := recipe.LoadDir(rdir, "linux-64")
				if err != nil {
					b.Fatal(err)
				}
				res, err := Build(context.Background(), Options{Recipe: r, SourceArchives: []string{arch}, OutputDir: b.TempDir(), Compression: level, Timestamp: fixedTime})
				if err != nil {
					b.Fatal(err)
				}
				size = res.Size
			}
			b.ReportMetric(float64(size)/float64(unpacked), "ratio")
		})
	}
}
