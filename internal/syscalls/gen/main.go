//go:build ignore

// Command main writes the syscall tables of package syscalls from the Linux
// UAPI headers of the Debian package linux-libc-dev.
//
// Usage (from internal/syscalls, as go:generate runs it):
//
//	go run gen/main.go [-out DIR] [-x86_64 HEADER] [-generic HEADER]
//
// x86_64 uses asm/unistd_64.h, which the kernel build derives from the
// "common" and "64" entries of arch/x86/entry/syscalls/syscall_64.tbl; it is
// a plain list of "#define __NR_name N" lines.
//
// arm64 has no header of its own on an amd64 machine, but its table is the
// asm-generic one: asm-generic/unistd.h read with the macros that
// arch/arm64/include/uapi/asm/unistd.h defines before including it. That
// header decides entries with #if/#ifdef, so this program carries a small
// preprocessor for the subset of cpp it uses and fails on anything else, so
// that a format change in a newer header is noticed rather than misread.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// table describes one generated file.
type table struct {
	file    string // output file name; must not end in a GOOS/GOARCH suffix
	varName string // Go array variable holding the names
	arch    string // human-readable architecture for comments
	header  string // input header path
	// predefined are the macros in force before the header is read.
	predefined map[string]string
	// fromInvocations selects the asm-generic reading: an entry exists only
	// where the header invokes __SYSCALL or one of its __SC_* wrappers, which
	// excludes bookkeeping macros such as __NR_syscalls.
	fromInvocations bool
}

// maxNumber bounds syscall numbers so that a misparsed header cannot make
// the generated array enormous.
const maxNumber = 4096

func main() {
	out := flag.String("out", ".", "directory to write the generated files to")
	x8664 := flag.String("x86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "x86_64 `header`")
	generic := flag.String("generic", "/usr/include/asm-generic/unistd.h", "asm-generic `header` read as arm64")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "gen: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}

	tables := []table{
		{
			file:    "ztable_x8664.go",
			varName: "x8664Names",
			arch:    "x86_64",
			header:  *x8664,
		},
		{
			file:    "ztable_aarch64.go",
			varName: "aarch64Names",
			arch:    "arm64 (aarch64)",
			header:  *generic,
			// Mirrors arch/arm64/include/uapi/asm/unistd.h. Not defining
			// __ARCH_WANT_SYNC_FILE_RANGE2, __ARCH_NOMMU or __SYSCALL_COMPAT
			// is as significant as what is listed. __ARCH_WANT_TIME32_SYSCALLS
			// exists there for the 32-bit compat table and changes nothing
			// when __BITS_PER_LONG is 64.
			predefined: map[string]string{
				"__BITS_PER_LONG":             "64",
				"__ARCH_WANT_RENAMEAT":        "",
				"__ARCH_WANT_NEW_STAT":        "",
				"__ARCH_WANT_SET_GET_RLIMIT":  "",
				"__ARCH_WANT_TIME32_SYSCALLS": "",
				"__ARCH_WANT_SYS_CLONE3":      "",
				"__ARCH_WANT_MEMFD_SECRET":    "",
			},
			fromInvocations: true,
		},
	}
	// Render every table before writing any, so that a failure cannot leave
	// a half-regenerated pair behind.
	code := make([][]byte, len(tables))
	for i, tb := range tables {
		var err error
		if code[i], err = generate(tb); err != nil {
			fmt.Fprintf(os.Stderr, "gen: %v\n", err)
			os.Exit(1)
		}
	}
	for i, tb := range tables {
		if err := os.WriteFile(filepath.Join(*out, tb.file), code[i], 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "gen: write %s: %v\n", tb.file, err)
			os.Exit(1)
		}
	}
}

// generate returns the Go source of tb.
func generate(tb table) ([]byte, error) {
	src, err := os.ReadFile(tb.header)
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", tb.file, err)
	}
	res, err := preprocess(string(src), tb.predefined)
	if err != nil {
		return nil, fmt.Errorf("generate %s: read %s: %w", tb.file, tb.header, err)
	}
	var names map[int]string
	if tb.fromInvocations {
		names, err = invokedEntries(res)
	} else {
		names, err = definedEntries(res)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s: read %s: %w", tb.file, tb.header, err)
	}
	code, err := render(tb, names)
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", tb.file, err)
	}
	return code, nil
}

// definedEntries treats every __NR_ macro as a syscall, which is right for
// headers generated from a syscall .tbl file.
func definedEntries(res *result) (map[int]string, error) {
	names := make(map[int]string)
	for _, macro := range slices.Sorted(maps.Keys(res.macros)) {
		name, ok := strings.CutPrefix(macro, "__NR_")
		if !ok {
			continue
		}
		nr, err := res.evalMacro(macro)
		if err != nil {
			return nil, err
		}
		if err := add(names, nr, name); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// invokedEntries takes the numbers of the macros passed to __SYSCALL and
// friends. Entries numbered through an __NR3264_ macro are named after the
// __NR_ alias the header defines for it, which for 64-bit picks the plain
// names ("fstat", "newfstatat", "mmap") over the 32-bit ones.
func invokedEntries(res *result) (map[int]string, error) {
	aliases := make(map[string][]string) // __NR3264_x → names of __NR_ macros defined as it
	for macro, body := range res.macros {
		if name, ok := strings.CutPrefix(macro, "__NR_"); ok && strings.HasPrefix(body, "__NR3264_") {
			aliases[body] = append(aliases[body], name)
		}
	}

	names := make(map[int]string)
	for _, macro := range res.invoked {
		var name string
		switch {
		case strings.HasPrefix(macro, "__NR_"):
			name = strings.TrimPrefix(macro, "__NR_")
		case strings.HasPrefix(macro, "__NR3264_"):
			if len(aliases[macro]) != 1 {
				return nil, fmt.Errorf("%s: want exactly one __NR_ alias, found %q", macro, aliases[macro])
			}
			name = aliases[macro][0]
		default:
			return nil, fmt.Errorf("table entry %s is not an __NR macro", macro)
		}
		nr, err := res.evalMacro(macro)
		if err != nil {
			return nil, err
		}
		if err := add(names, nr, name); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// add records nr → name, rejecting anything that would make the table
// ambiguous, since Number relies on names being unique.
func add(names map[int]string, nr int64, name string) error {
	if nr < 0 || nr >= maxNumber {
		return fmt.Errorf("syscall %s: number %d outside 0..%d", name, nr, maxNumber-1)
	}
	if prev, ok := names[int(nr)]; ok {
		return fmt.Errorf("syscall number %d: both %s and %s", nr, prev, name)
	}
	for other, n := range names {
		if n == name {
			return fmt.Errorf("syscall %s: both %d and %d", name, other, nr)
		}
	}
	names[int(nr)] = name
	return nil
}

func render(tb table, names map[int]string) ([]byte, error) {
	if len(names) == 0 {
		return nil, errors.New("no syscalls found")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by \"go run gen/main.go\" from %s; DO NOT EDIT.\n\n", tb.header)
	b.WriteString("package syscalls\n\n")
	fmt.Fprintf(&b, "// %s is indexed by %s syscall number; \"\" marks an unassigned number.\n", tb.varName, tb.arch)
	fmt.Fprintf(&b, "var %s = [...]string{\n", tb.varName)
	for _, nr := range slices.Sorted(maps.Keys(names)) {
		fmt.Fprintf(&b, "%d: %q,\n", nr, names[nr])
	}
	b.WriteString("}\n")
	code, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format generated code: %w", err)
	}
	return code, nil
}

// result is what preprocess learned from a header.
type result struct {
	macros map[string]string // object-like macros: name → body
	funcs  map[string]bool   // function-like macros; their bodies are never needed
	// invoked lists, in header order, the first argument of each active
	// __SYSCALL/__SC_* invocation, i.e. the macro holding the entry's number.
	invoked []string
}

// isTableMacro reports whether an invocation of macro makes an asm-generic
// table entry.
func isTableMacro(macro string) bool {
	switch macro {
	case "__SYSCALL", "__SC_3264", "__SC_COMP", "__SC_COMP_3264":
		return true
	}
	return false
}

var invocationRE = regexp.MustCompile(`^(\w+)\(\s*(\w+)\s*,`)

// cond is one level of #if nesting.
type cond struct {
	parentOn bool // whether the enclosing region is being read
	on       bool // whether the current branch is being read
	taken    bool // whether any branch so far was taken
	sawElse  bool
}

// preprocess evaluates the conditionals in src and collects the macro
// definitions and table invocations of the branches that are in force.
func preprocess(src string, predefined map[string]string) (*result, error) {
	text, err := stripComments(strings.ReplaceAll(src, "\\\n", " "))
	if err != nil {
		return nil, err
	}
	res := &result{macros: maps.Clone(predefined), funcs: make(map[string]bool)}
	if res.macros == nil {
		res.macros = make(map[string]string)
	}
	var stack []cond
	active := func() bool { return len(stack) == 0 || stack[len(stack)-1].on }

	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			if !active() {
				continue
			}
			m := invocationRE.FindStringSubmatch(line)
			if m == nil || !isTableMacro(m[1]) {
				return nil, fmt.Errorf("unexpected line %q", line)
			}
			res.invoked = append(res.invoked, m[2])
			continue
		}

		name, args := splitIdent(strings.TrimSpace(line[1:]))
		args = strings.TrimSpace(args)
		switch name {
		case "if", "ifdef", "ifndef":
			parent := active()
			on := false
			if parent {
				// Expressions in skipped regions are never evaluated, as in
				// cpp, so they may use constructs this evaluator lacks.
				if on, err = res.evalDirective(name, args); err != nil {
					return nil, fmt.Errorf("%q: %w", line, err)
				}
			}
			stack = append(stack, cond{parentOn: parent, on: on, taken: on})
		case "elif":
			if len(stack) == 0 || stack[len(stack)-1].sawElse {
				return nil, fmt.Errorf("%q without #if", line)
			}
			top := &stack[len(stack)-1]
			on := false
			if top.parentOn && !top.taken {
				if on, err = res.evalDirective("if", args); err != nil {
					return nil, fmt.Errorf("%q: %w", line, err)
				}
			}
			top.on, top.taken = on, top.taken || on
		case "else":
			if len(stack) == 0 || stack[len(stack)-1].sawElse {
				return nil, fmt.Errorf("%q without #if", line)
			}
			top := &stack[len(stack)-1]
			top.on, top.taken, top.sawElse = top.parentOn && !top.taken, true, true
		case "endif":
			if len(stack) == 0 {
				return nil, fmt.Errorf("%q without #if", line)
			}
			stack = stack[:len(stack)-1]
		default:
			if !active() {
				continue
			}
			if err := res.directive(name, args); err != nil {
				return nil, fmt.Errorf("%q: %w", line, err)
			}
		}
	}
	if len(stack) != 0 {
		return nil, errors.New("unterminated #if")
	}
	return res, nil
}

// directive applies a non-conditional directive in an active region.
func (r *result) directive(directive, args string) error {
	switch directive {
	case "define":
		name, body := splitIdent(args)
		if name == "" {
			return errors.New("#define without a name")
		}
		delete(r.macros, name)
		delete(r.funcs, name)
		if strings.HasPrefix(body, "(") {
			r.funcs[name] = true
		} else {
			r.macros[name] = strings.TrimSpace(body)
		}
	case "undef":
		delete(r.macros, args)
		delete(r.funcs, args)
	case "include":
		// The only include is <asm/bitsperlong.h>, whose one relevant
		// effect, __BITS_PER_LONG, is predefined per table.
	default:
		return fmt.Errorf("unsupported directive #%s", directive)
	}
	return nil
}

func (r *result) evalDirective(directive, args string) (bool, error) {
	switch directive {
	case "ifdef":
		return r.defined(args), nil
	case "ifndef":
		return !r.defined(args), nil
	}
	v, err := r.eval(args, 0)
	return v != 0, err
}

func (r *result) defined(name string) bool {
	_, ok := r.macros[name]
	return ok || r.funcs[name]
}

// evalMacro returns the integer value of an object-like macro.
func (r *result) evalMacro(name string) (int64, error) {
	body, ok := r.macros[name]
	if !ok {
		return 0, fmt.Errorf("%s is not defined", name)
	}
	v, err := r.eval(body, 0)
	if err != nil {
		return 0, fmt.Errorf("evaluate %s: %w", name, err)
	}
	return v, nil
}

// maxDepth stops macros that expand to themselves.
const maxDepth = 16

// eval evaluates a cpp integer expression made of integers, identifiers,
// defined(), parentheses, !, comparisons, && and ||.
func (r *result) eval(expr string, depth int) (int64, error) {
	if depth > maxDepth {
		return 0, errors.New("macro expansion too deep")
	}
	toks, err := tokenize(expr)
	if err != nil {
		return 0, err
	}
	p := &parser{r: r, toks: toks, depth: depth}
	v, err := p.or()
	if err != nil {
		return 0, err
	}
	if p.pos != len(p.toks) {
		return 0, fmt.Errorf("unexpected %q in %q", p.toks[p.pos], expr)
	}
	return v, nil
}

type parser struct {
	r     *result
	toks  []string
	pos   int
	depth int
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) next() string {
	t := p.peek()
	if t != "" {
		p.pos++
	}
	return t
}

func (p *parser) or() (int64, error) {
	v, err := p.and()
	for err == nil && p.peek() == "||" {
		p.next()
		var w int64
		w, err = p.and()
		v = b2i(v != 0 || w != 0)
	}
	return v, err
}

func (p *parser) and() (int64, error) {
	v, err := p.compare()
	for err == nil && p.peek() == "&&" {
		p.next()
		var w int64
		w, err = p.compare()
		v = b2i(v != 0 && w != 0)
	}
	return v, err
}

// compare handles ==, != and the relational operators; the headers never
// chain them, so one precedence level is enough.
func (p *parser) compare() (int64, error) {
	v, err := p.unary()
	for err == nil {
		op := p.peek()
		if op != "==" && op != "!=" && op != "<" && op != ">" && op != "<=" && op != ">=" {
			break
		}
		p.next()
		var w int64
		if w, err = p.unary(); err != nil {
			break
		}
		switch op {
		case "==":
			v = b2i(v == w)
		case "!=":
			v = b2i(v != w)
		case "<":
			v = b2i(v < w)
		case ">":
			v = b2i(v > w)
		case "<=":
			v = b2i(v <= w)
		case ">=":
			v = b2i(v >= w)
		}
	}
	return v, err
}

func (p *parser) unary() (int64, error) {
	switch tok := p.next(); {
	case tok == "":
		return 0, errors.New("unexpected end of expression")
	case tok == "!":
		v, err := p.unary()
		return b2i(v == 0), err
	case tok == "(":
		v, err := p.or()
		if err == nil && p.next() != ")" {
			err = errors.New("missing )")
		}
		return v, err
	case tok == "defined":
		paren := p.peek() == "("
		if paren {
			p.next()
		}
		name := p.next()
		if !isIdent(name) {
			return 0, fmt.Errorf("defined(%q): not an identifier", name)
		}
		if paren && p.next() != ")" {
			return 0, errors.New("missing ) after defined(")
		}
		return b2i(p.r.defined(name)), nil
	case isIdent(tok):
		if p.r.funcs[tok] {
			return 0, fmt.Errorf("function-like macro %s in expression", tok)
		}
		body, ok := p.r.macros[tok]
		if !ok {
			return 0, nil // cpp: an undefined identifier is 0
		}
		return p.r.eval(body, p.depth+1)
	default:
		v, err := strconv.ParseInt(strings.TrimRight(tok, "uUlL"), 0, 64)
		if err != nil {
			return 0, fmt.Errorf("bad token %q", tok)
		}
		return v, nil
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// tokenize splits a cpp expression into identifiers, numbers and operators.
func tokenize(expr string) ([]string, error) {
	var toks []string
	for s := strings.TrimSpace(expr); s != ""; s = strings.TrimSpace(s) {
		switch {
		case isIdentByte(s[0]):
			n := 1
			for n < len(s) && isIdentByte(s[n]) {
				n++
			}
			toks, s = append(toks, s[:n]), s[n:]
		default:
			op := ""
			for _, cand := range []string{"||", "&&", "==", "!=", "<=", ">=", "<", ">", "!", "(", ")"} {
				if strings.HasPrefix(s, cand) {
					op = cand
					break
				}
			}
			if op == "" {
				return nil, fmt.Errorf("unsupported character %q in %q", s[0], expr)
			}
			toks, s = append(toks, op), s[len(op):]
		}
	}
	return toks, nil
}

// splitIdent splits s into its leading identifier and the rest.
func splitIdent(s string) (ident, rest string) {
	n := 0
	for n < len(s) && isIdentByte(s[n]) {
		n++
	}
	return s[:n], s[n:]
}

// isIdentByte also accepts digits so that numbers with suffixes tokenize as
// one word; isIdent tells identifiers apart.
func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isIdent(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := range len(s) {
		if !isIdentByte(s[i]) {
			return false
		}
	}
	return true
}

// stripComments replaces each comment with a space, keeping the newlines of
// block comments so that line structure survives.
func stripComments(s string) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '/')
		if i < 0 || i == len(s)-1 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		switch s[i+1] {
		case '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return "", errors.New("unterminated comment")
			}
			comment := s[i+2 : i+2+end]
			b.WriteByte(' ')
			b.WriteString(strings.Repeat("\n", strings.Count(comment, "\n")))
			s = s[i+2+end+2:]
		case '/':
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				return b.String(), nil
			}
			b.WriteByte(' ')
			s = s[i+end:]
		default:
			b.WriteByte('/')
			s = s[i+1:]
		}
	}
}
