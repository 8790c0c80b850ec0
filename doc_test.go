package persy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestExportedNamesHaveDocs protects STYLE.md's rule "doc comment on every
// exported name, starting with the name" in every library package: the
// root package and every folder below it but cmd/ and bench/ (a program
// and a module of its own). Test files are skipped.
//
// What counts: a function, a method whose receiver type is exported, a
// type, and a constant or variable. A constant or variable inside a
// parenthesised group may lean on the group's doc comment, as go doc
// shows the group whole; if it has a comment of its own, that comment
// starts with one of the names it declares. A method's comment may also
// start with its receiver's type and the name (Tx.Commit ...).
func TestExportedNamesHaveDocs(t *testing.T) {
	problems := undocumented(t, ".")
	for _, p := range problems {
		t.Error(p)
	}
}

// undocumented lists, as "file:line: what", every exported name under
// dir whose doc comment is missing or does not start with the name.
func undocumented(t *testing.T, dir string) []string {
	t.Helper()
	var problems []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != dir && (name == "cmd" || name == "bench" || name == "testdata" ||
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		problems = append(problems, fileProblems(fset, f)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(problems)
	return problems
}

// fileProblems lists the exported names of one file whose doc comment is
// missing or starts with something else.
func fileProblems(fset *token.FileSet, f *ast.File) []string {
	var problems []string
	report := func(pos token.Pos, format string, names ...string) {
		p := fset.Position(pos)
		problems = append(problems, filepath.ToSlash(p.Filename)+":"+strconv.Itoa(p.Line)+": "+
			strings.ReplaceAll(format, "%s", strings.Join(names, ", ")))
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				continue
			}
			names := []string{d.Name.Name}
			if d.Recv != nil {
				recv := receiverType(d.Recv.List[0].Type)
				if !ast.IsExported(recv) {
					continue
				}
				names = append(names, recv+"."+d.Name.Name)
			}
			if !startsWithOneOf(d.Doc, names) {
				report(d.Pos(), "%s: no doc comment starting with its name", names[len(names)-1])
			}
		case *ast.GenDecl:
			if d.Tok == token.IMPORT {
				continue
			}
			grouped := d.Lparen.IsValid()
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					doc := s.Doc
					if doc == nil && !grouped {
						doc = d.Doc
					}
					if !startsWithOneOf(doc, []string{s.Name.Name}) {
						report(s.Pos(), "type %s: no doc comment starting with its name", s.Name.Name)
					}
				case *ast.ValueSpec:
					var names []string
					for _, n := range s.Names {
						if n.IsExported() {
							names = append(names, n.Name)
						}
					}
					if len(names) == 0 {
						continue
					}
					switch {
					case s.Doc != nil:
						if !startsWithOneOf(s.Doc, names) {
							report(s.Pos(), "%s: doc comment does not start with the name", names...)
						}
					case grouped:
						if d.Doc == nil {
							report(s.Pos(), "%s: no doc comment, nor one on its group", names...)
						}
					default:
						if !startsWithOneOf(d.Doc, names) {
							report(s.Pos(), "%s: no doc comment starting with its name", names...)
						}
					}
				}
			}
		}
	}
	return problems
}

// receiverType names a method's receiver type: T for T, *T, T[K] and *T[K].
func receiverType(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

// startsWithOneOf reports whether doc's first word is one of names. An
// article before the name ("A Tx is ...", "The ...") is the sentence
// go doc's convention asks for too, so it is accepted.
func startsWithOneOf(doc *ast.CommentGroup, names []string) bool {
	if doc == nil {
		return false
	}
	text := strings.TrimSpace(doc.Text())
	for _, article := range []string{"A ", "An ", "The "} {
		text = strings.TrimPrefix(text, article)
	}
	for _, name := range names {
		if text == name || strings.HasPrefix(text, name+" ") || strings.HasPrefix(text, name+",") ||
			strings.HasPrefix(text, name+"'") || strings.HasPrefix(text, name+":") ||
			strings.HasPrefix(text, name+".") || strings.HasPrefix(text, name+"\n") {
			return true
		}
	}
	return false
}
