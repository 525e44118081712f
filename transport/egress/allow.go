package egress

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// allowList is a parsed allow-list.
type allowList struct {
	prefixes []portRule[netip.Prefix]
	hosts    []portRule[string] // lower case, no trailing dot; "*.x" matches subdomains of x
}

// portRule is an entry with its port (0: any port).
type portRule[T any] struct {
	v    T
	port int
}

// ParseAllow parses an allow-list. Each entry is one of:
//
//	10.0.0.0/8, fd00::/8          a CIDR: every address in it, any port
//	127.0.0.1, ::1                an address, any port
//	127.0.0.1:9000, [::1]:9000    an address and one port
//	hooks.internal.example        a host name, any port, whatever it resolves to
//	hooks.internal.example:8443   a host name and one port
//	*.internal.example[:port]     every subdomain of internal.example
//
// A host-name entry trusts the name's resolution (the operator's DNS): the
// dialled address is not checked for it. An address entry allows an
// address however it was reached (by any name).
func ParseAllow(entries []string) (allowList, error) {
	var al allowList
	for i, e := range entries {
		if err := al.add(strings.TrimSpace(e)); err != nil {
			return allowList{}, fmt.Errorf("egress.allow[%d] %q: %w", i, e, err)
		}
	}
	return al, nil
}

func (al *allowList) add(e string) error {
	if e == "" {
		return fmt.Errorf("empty entry")
	}
	if strings.Contains(e, "://") || strings.ContainsAny(e, "/?#@ \t") && !isCIDR(e) {
		return fmt.Errorf("want a CIDR, an IP address, host or host:port (no scheme, path or user)")
	}
	if p, err := netip.ParsePrefix(e); err == nil {
		al.prefixes = append(al.prefixes, portRule[netip.Prefix]{v: p.Masked()})
		return nil
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(e, "["), "]")); err == nil {
		if ip.Zone() != "" {
			return fmt.Errorf("an address with a zone")
		}
		al.prefixes = append(al.prefixes, portRule[netip.Prefix]{v: netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())})
		return nil
	}
	host, port := e, 0
	if h, p, err := net.SplitHostPort(e); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return fmt.Errorf("the port must be a number from 1 to 65535")
		}
		host, port = h, n
		if ip, err := netip.ParseAddr(h); err == nil {
			if ip.Zone() != "" {
				return fmt.Errorf("an address with a zone")
			}
			al.prefixes = append(al.prefixes, portRule[netip.Prefix]{v: netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()), port: port})
			return nil
		}
	} else if strings.Contains(e, ":") {
		return fmt.Errorf("neither an IP address, a CIDR nor host:port")
	}
	host = normHost(host)
	name := strings.TrimPrefix(host, "*.")
	if !validHostname(name) {
		return fmt.Errorf("%q is not a valid host name", host)
	}
	al.hosts = append(al.hosts, portRule[string]{v: host, port: port})
	return nil
}

func isCIDR(e string) bool {
	_, err := netip.ParsePrefix(e)
	return err == nil
}

func normHost(h string) string { return strings.ToLower(strings.TrimSuffix(h, ".")) }

// validHostname: dot-separated labels of letters, digits, '-' and '_'
// (not at a label's ends), at most 253 bytes.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// ipAllowed reports whether an address entry allows ip on port.
func (al allowList) ipAllowed(ip netip.Addr, port int) bool {
	ip = ip.WithZone("").Unmap()
	for _, r := range al.prefixes {
		if (r.port == 0 || r.port == port) && r.v.Contains(ip) {
			return true
		}
	}
	return false
}

// hostAllowed reports whether a host-name entry allows host on port.
func (al allowList) hostAllowed(host string, port int) bool {
	if len(al.hosts) == 0 {
		return false
	}
	host = normHost(host)
	for _, r := range al.hosts {
		if r.port != 0 && r.port != port {
			continue
		}
		if r.v == host || strings.HasPrefix(r.v, "*.") && strings.HasSuffix(host, r.v[1:]) {
			return true
		}
	}
	return false
}
