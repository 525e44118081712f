// Package egress makes the HTTP calls the gateway sends on a caller's
// behalf (A2A push webhooks; later URL ingestion) to a URL the caller
// chose. Such a URL must not reach inside: by default every address that is
// not public is refused — loopback, private (RFC 1918, fc00::/7),
// link-local (169.254.0.0/16 with the cloud metadata address
// 169.254.169.254, fe80::/10), multicast, unspecified, 0.0.0.0/8, CGNAT
// 100.64.0.0/10 and the other reserved ranges, in their IPv4-mapped and
// NAT64 / 6to4 forms too.
//
// The check is made on the address actually dialled, in the dialer's
// Control function, after name resolution: a name that resolves (or is
// rebound) to an internal address is refused at connect time, and so is
// every redirect hop, since each goes through the same dialer. CheckURL
// refuses the plainly internal URLs earlier, when a caller configures one.
//
// An operator opens holes with an allow-list (see ParseAllow): CIDRs or IP
// addresses (any port), ip:port, host names (whatever they resolve to) and
// host:port.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config configures a Guard. The zero value refuses every internal
// address and follows at most DefaultMaxRedirects redirects.
type Config struct {
	// Allow lists the destinations allowed although internal (see
	// ParseAllow for the forms).
	Allow []string
	// MaxRedirects bounds the redirects one request follows (default
	// DefaultMaxRedirects; negative: none are followed, the 3xx answer is
	// returned).
	MaxRedirects int
	// DialTimeout bounds one TCP connect (default 10s).
	DialTimeout time.Duration
}

// DefaultMaxRedirects is how many redirects a request follows by default.
const DefaultMaxRedirects = 5

// RefusedError is the error of a call to a destination the guard refuses.
// It is not worth a retry.
type RefusedError struct {
	// Addr is the refused destination (an address, a host or a URL).
	Addr string
	// Reason names the class of the address ("loopback", "private"...) or
	// what else is wrong.
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("egress: %s is refused (%s); allow it with egress.allow if it is meant to be reached", e.Addr, e.Reason)
}

// Guard decides which destinations may be called and builds the clients
// that call them. It is safe for concurrent use.
type Guard struct {
	allow        allowList
	maxRedirects int
	dialTimeout  time.Duration
	resolver     *net.Resolver
}

// New parses cfg's allow-list and returns the guard.
func New(cfg Config) (*Guard, error) {
	al, err := ParseAllow(cfg.Allow)
	if err != nil {
		return nil, err
	}
	g := &Guard{allow: al, maxRedirects: cfg.MaxRedirects, dialTimeout: cfg.DialTimeout, resolver: net.DefaultResolver}
	if g.maxRedirects == 0 {
		g.maxRedirects = DefaultMaxRedirects
	}
	if g.dialTimeout <= 0 {
		g.dialTimeout = 10 * time.Second
	}
	return g, nil
}

// Client returns a client whose every connection (redirect hops included)
// is checked by the guard. It uses no proxy from the environment: a proxy
// would make the dialled address the proxy's, hiding the destination.
// stripOnRedirect names request headers removed when a redirect leaves
// the original host:port, such as a webhook's own token header (net/http
// drops Authorization and cookies itself only when the host name changes,
// not the port).
func (g *Guard) Client(timeout time.Duration, stripOnRedirect ...string) *http.Client {
	tr := &http.Transport{
		DialContext:           g.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		return g.checkRedirect(req, via, stripOnRedirect)
	}}
}

func (g *Guard) checkRedirect(req *http.Request, via []*http.Request, strip []string) error {
	if g.maxRedirects < 0 {
		return http.ErrUseLastResponse
	}
	if len(via) > g.maxRedirects {
		return fmt.Errorf("egress: stopped after %d redirects", g.maxRedirects)
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return &RefusedError{Addr: req.URL.Redacted(), Reason: "a redirect to a scheme other than http(s)"}
	}
	if len(strip) > 0 && !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
		for _, h := range strip {
			req.Header.Del(h)
		}
	}
	return nil
}

// DialContext dials addr ("host:port") like a net.Dialer whose Control
// function refuses each address the guard does not allow: the check runs
// on the resolved address about to be connected, for every address tried.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(portStr)
	nameAllowed := g.allow.hostAllowed(host, port)
	d := &net.Dialer{Timeout: g.dialTimeout, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			if nameAllowed {
				return nil
			}
			return g.checkAddr(address)
		}}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		// The dialer wraps Control's error in a *net.OpError; hand the
		// refusal back as itself so callers can tell it from a network
		// failure.
		var re *RefusedError
		if errors.As(err, &re) {
			return nil, re
		}
		return nil, err
	}
	return conn, nil
}

// checkAddr checks a dialled "ip:port".
func (g *Guard) checkAddr(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Addr: address, Reason: "not an IP address"}
	}
	return g.checkIP(ap.Addr(), int(ap.Port()), address)
}

func (g *Guard) checkIP(ip netip.Addr, port int, shown string) error {
	reason := Classify(ip)
	if reason == "" || g.allow.ipAllowed(ip, port) {
		return nil
	}
	return &RefusedError{Addr: shown, Reason: reason}
}

// CheckURL refuses a URL that is plainly not callable: not absolute
// http(s), or naming a host whose addresses are all refused (a literal
// internal IP, localhost, a name resolving only to internal addresses). A
// name that does not resolve now is accepted (the dialer checks it at
// call time). Errors are *RefusedError or a parse error.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("not an absolute http(s) URL")
	}
	host := u.Hostname()
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port <= 0 || port > 65535 {
			return errors.New("the URL's port is not a number from 1 to 65535")
		}
	}
	if g.allow.hostAllowed(host, port) {
		return nil
	}
	shown := net.JoinHostPort(host, strconv.Itoa(port))
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		return g.checkIP(ip.WithZone(""), port, shown)
	}
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		// RFC 6761: always loopback, whatever a resolver says.
		if g.allow.ipAllowed(netip.MustParseAddr("127.0.0.1"), port) {
			return nil
		}
		return &RefusedError{Addr: shown, Reason: "loopback"}
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := g.resolver.LookupNetIP(rctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil
	}
	var first error
	for _, a := range addrs {
		err := g.checkIP(a.Unmap(), port, shown)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// Classify names the class of a non-public address ("loopback",
// "private", "link-local", "cloud metadata"...), or returns "" for a
// public one. IPv4-mapped, NAT64 and 6to4 addresses are judged by the IPv4
// address they carry.
func Classify(ip netip.Addr) string {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	switch {
	case !ip.IsValid():
		return "invalid address"
	case ip == metadataV4, ip == metadataV6:
		return "cloud metadata"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	if ip.Is6() {
		for _, p := range embedsV4 {
			if !p.Contains(ip) {
				continue
			}
			b := ip.As16()
			var v4 [4]byte
			if p.Bits() == 16 { // 6to4: 2002:AABB:CCDD::/48
				copy(v4[:], b[2:6])
			} else { // NAT64 / IPv4-compatible: the last 32 bits
				copy(v4[:], b[12:16])
			}
			if c := Classify(netip.AddrFrom4(v4)); c != "" {
				return c + " (embedded in " + p.String() + ")"
			}
		}
	}
	for _, r := range reserved {
		if r.prefix.Contains(ip) {
			return r.name
		}
	}
	return ""
}

var (
	metadataV4 = netip.MustParseAddr("169.254.169.254")
	metadataV6 = netip.MustParseAddr("fd00:ec2::254")
	// embedsV4 are IPv6 ranges that carry an IPv4 address a gateway or
	// the host stack may translate to.
	embedsV4 = []netip.Prefix{
		netip.MustParsePrefix("64:ff9b::/96"),   // NAT64 (RFC 6052)
		netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64 (RFC 8215)
		netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated)
		netip.MustParsePrefix("2002::/16"),      // 6to4
	}
	// reserved are the other ranges that are not public unicast.
	reserved = []struct {
		prefix netip.Prefix
		name   string
	}{
		{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
		{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (CGNAT)"},
		{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
		{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
		{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // 255.255.255.255 included
		{netip.MustParsePrefix("fec0::/10"), "site-local"}, // deprecated, still routed inside some networks
		{netip.MustParsePrefix("100::/64"), "discard-only"},
		{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	}
)
