package config

import (
	"testing"
)

type color uint8

var colors = Names[color]{{1, "red"}, {2, "green"}, {4, "blue"}}

type shape string

var shapes = Names[shape]{{"circle", "circle"}, {"square", "square"}}

func TestNamesParse(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    color
		wantErr string
	}{
		{name: "first", text: "red", want: 1},
		{name: "last", text: "blue", want: 4},
		{name: "unknown", text: "pink", wantErr: `"pink" is not red, green or blue`},
		{name: "empty", text: "", wantErr: `"" is not red, green or blue`},
		{name: "case matters", text: "Red", wantErr: `"Red" is not red, green or blue`},
		{name: "no trimming", text: " red", wantErr: `" red" is not red, green or blue`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := colors.Parse([]byte(tt.text))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || got != 0 {
					t.Fatalf("Parse(%q) = %v, %v; want 0, %q", tt.text, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %v, %v; want %v", tt.text, got, err, tt.want)
			}
		})
	}
}

func TestNamesTextAndFormat(t *testing.T) {
	tests := []struct {
		name       string
		text       func() ([]byte, error)
		format     string
		want       string
		wantErr    string
		checkFails bool
	}{
		{name: "named number", text: func() ([]byte, error) { return colors.Text(2) }, format: colors.Format(2), want: "green"},
		{name: "unnamed number", text: func() ([]byte, error) { return colors.Text(3) }, format: colors.Format(3),
			want: "config.color(0x3)", wantErr: "0x3 is not red, green or blue"},
		{name: "named string", text: func() ([]byte, error) { return shapes.Text("square") }, format: shapes.Format("square"), want: "square"},
		{name: "unnamed string", text: func() ([]byte, error) { return shapes.Text("") }, format: shapes.Format(""),
			want: `config.shape("")`, wantErr: `"" is not circle or square`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.format != tt.want {
				t.Errorf("Format = %q, want %q", tt.format, tt.want)
			}
			got, err := tt.text()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("Text = %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("Text = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestNamesCheck(t *testing.T) {
	tests := []struct {
		name  string
		value color
		ok    bool
	}{
		{name: "named", value: 4, ok: true},
		{name: "zero is unnamed here", value: 0},
		{name: "between names", value: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := colors.Check(tt.value); (err == nil) != tt.ok {
				t.Errorf("Check(%d) = %v, want ok %v", tt.value, err, tt.ok)
			}
		})
	}
}

func TestNamesString(t *testing.T) {
	tests := []struct {
		name  string
		names Names[color]
		want  string
	}{
		{name: "none", names: nil, want: ""},
		{name: "one", names: colors[:1], want: "red"},
		{name: "two", names: colors[:2], want: "red or green"},
		{name: "three", names: colors, want: "red, green or blue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.names.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
