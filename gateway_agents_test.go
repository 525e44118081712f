package agentgate

import "testing"

func TestTemplatedHost(t *testing.T) {
	t.Parallel()
	for tmpl, want := range map[string]bool{
		"https://api.example.com/weather/{city}{?units}": false,
		"https://api.example.com/{+path}":                false,
		"http://127.0.0.1:8080/x":                        false,
		"http://{host}/x":                                true,
		"http://{+host}/x":                               true,
		"{+url}":                                         true,
		"{scheme}://api.example.com/":                    true,
		"https://api.example.com{+path}":                 true, // "@evil.example/" would change the host
		"https://api.example.com{/path}":                 true, // conservative
		"https://api.example.com:{port}/":                true,
		"https://user:{pw}@api.example.com/":             true,
		"https://api.example.com?q={q}":                  false,
	} {
		if got := templatedHost(tmpl); got != want {
			t.Errorf("templatedHost(%q) = %v, want %v", tmpl, got, want)
		}
	}
}
