// transport/dns: SRV and address queries and responses (RFC 1035 wire format, RFC 2782 order).
#include <catch2/catch.hpp>

#include <arpa/nameser.h>
#include <resolv.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "sipvoice/transport/dns.hpp"

namespace tp = sipvoice::transport;

namespace {

// A DNS message written byte by byte, the way the RFC draws it.
struct wire {
    std::vector<std::uint8_t> b;
    void u8(unsigned v) { b.push_back(static_cast<std::uint8_t>(v)); }
    void u16(unsigned v) {
        u8(v >> 8);
        u8(v & 0xff);
    }
    void u32(unsigned v) {
        u16(v >> 16);
        u16(v & 0xffff);
    }
    void name(std::string_view n) {  // uncompressed
        while (!n.empty()) {
            const auto dot = n.find('.');
            const std::string_view label = n.substr(0, dot);
            u8(static_cast<unsigned>(label.size()));
            b.insert(b.end(), label.begin(), label.end());
            n = dot == std::string_view::npos ? std::string_view{} : n.substr(dot + 1);
        }
        u8(0);
    }
    void header(unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns = 0) {
        u16(id);
        u16(flags);
        u16(qd);
        u16(an);
        u16(ns);
        u16(0);
    }
    void question(std::string_view n, unsigned type) {
        name(n);
        u16(type);
        u16(ns_c_in);
    }
    // The zone's SOA, for the authority section of a negative answer: TTL `ttl`, MINIMUM `minimum`.
    void soa(std::string_view zone, unsigned ttl, unsigned minimum) {
        wire rd;
        rd.name("ns." + std::string(zone));
        rd.name("hostmaster." + std::string(zone));
        for (unsigned v : {2026112201U, 3600U, 600U, 86400U}) rd.u32(v);
        rd.u32(minimum);
        record(zone, ns_t_soa, rd.b, ttl);
    }
    // A NAPTR answer whose owner is the name at offset 12 (RFC 3403 §4.1).
    void naptr(unsigned order, unsigned pref, std::string_view flags, std::string_view service, std::string_view regexp,
               std::string_view replacement) {
        wire rd;
        rd.u16(order);
        rd.u16(pref);
        for (std::string_view text : {flags, service, regexp}) {
            rd.u8(static_cast<unsigned>(text.size()));
            rd.b.insert(rd.b.end(), text.begin(), text.end());
        }
        rd.name(replacement);
        u16(0xC000 | 12);
        u16(ns_t_naptr);
        u16(ns_c_in);
        u32(300);
        u16(static_cast<unsigned>(rd.b.size()));
        b.insert(b.end(), rd.b.begin(), rd.b.end());
    }
    // An SRV answer whose owner is the name at offset 12 (the question's, compressed).
    void srv(unsigned prio, unsigned weight, unsigned port, std::string_view target, unsigned ttl = 300) {
        u16(0xC000 | 12);
        u16(ns_t_srv);
        u16(ns_c_in);
        u32(ttl);
        wire rd;
        rd.u16(prio);
        rd.u16(weight);
        rd.u16(port);
        rd.name(target);
        u16(static_cast<unsigned>(rd.b.size()));
        b.insert(b.end(), rd.b.begin(), rd.b.end());
    }
    void record(std::string_view owner, unsigned type, const std::vector<std::uint8_t>& rdata, unsigned ttl = 300) {
        name(owner);
        u16(type);
        u16(ns_c_in);
        u32(ttl);
        u16(static_cast<unsigned>(rdata.size()));
        b.insert(b.end(), rdata.begin(), rdata.end());
    }
};

constexpr unsigned response_flags = 0x8180;  // QR, RD, RA, NOERROR

// Every cut of `whole` (a response to query `id` for `name`'s `type` records) is malformed.
void check_every_cut_malformed(const std::vector<std::uint8_t>& whole, std::uint16_t id, std::string_view name,
                               tp::dns_type type) {
    for (std::size_t n = 0; n < whole.size(); ++n) {
        // A copy of exactly n bytes, so that ASan sees a read past the cut.
        const std::vector<std::uint8_t> cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
        INFO("cut at " << n);
        CHECK_FALSE(tp::read_dns_response(cut, id, name, type).ok);
    }
}

}  // namespace

TEST_CASE("dns: a query asks one question with recursion desired") {
    const auto q = tp::make_dns_query("_sip._tcp.pbx.example.com", tp::dns_type::srv, 0x1234);
    REQUIRE(q.size() > HFIXEDSZ);
    ns_msg m;
    REQUIRE(ns_initparse(q.data(), static_cast<int>(q.size()), &m) == 0);
    CHECK(ns_msg_id(m) == 0x1234);
    CHECK(ns_msg_getflag(m, ns_f_qr) == 0);
    CHECK(ns_msg_getflag(m, ns_f_rd) == 1);
    REQUIRE(ns_msg_count(m, ns_s_qd) == 1);
    ns_rr rr;
    REQUIRE(ns_parserr(&m, ns_s_qd, 0, &rr) == 0);
    CHECK(std::string(ns_rr_name(rr)) == "_sip._tcp.pbx.example.com");
    CHECK(ns_rr_type(rr) == ns_t_srv);
    CHECK(tp::make_dns_query("pbx.example.com", tp::dns_type::aaaa, 7).size() > HFIXEDSZ);
    // A label of 64 bytes cannot be encoded; neither can an empty name or one with a NUL.
    CHECK(tp::make_dns_query(std::string(64, 'a') + ".example.com", tp::dns_type::srv, 1).empty());
    CHECK(tp::make_dns_query("", tp::dns_type::srv, 1).empty());
    CHECK(tp::make_dns_query(std::string_view("a\0b", 3), tp::dns_type::srv, 1).empty());
}

TEST_CASE("dns: SRV answers are read with their targets, records of other names and types skipped") {
    const std::string name = "_sip._tcp.pbx.example.com";
    wire w;
    w.header(77, response_flags, 1, 5);
    w.question(name, ns_t_srv);
    w.srv(10, 60, 5060, "a.pbx.example.com");
    w.record("other.example.com", ns_t_srv, {0, 1, 0, 1, 0x13, 0xc4, 1, 'x', 0});  // another owner
    w.record(name, ns_t_a, {192, 0, 2, 1});                                      // another type
    w.srv(20, 0, 5070, "b.pbx.example.com");
    w.srv(10, 40, 5080, "c.pbx.example.com");
    const auto a = tp::read_dns_response(w.b, 77, name, tp::dns_type::srv);
    REQUIRE(a.ok);
    CHECK_FALSE(a.foreign);
    REQUIRE(a.records.size() == 3);
    CHECK(a.records[0] == tp::srv_record{10, 60, 5060, "a.pbx.example.com"});
    CHECK(a.records[1] == tp::srv_record{20, 0, 5070, "b.pbx.example.com"});
    CHECK(a.records[2] == tp::srv_record{10, 40, 5080, "c.pbx.example.com"});
    // The name compares without regard to case or a final dot.
    CHECK(tp::read_dns_response(w.b, 77, "_SIP._TCP.PBX.example.com.", tp::dns_type::srv).records.size() == 3);
}

TEST_CASE("dns: no records, errors, and responses that are not ours") {
    const std::string name = "_sip._udp.example.com";
    SECTION("NXDOMAIN: no records, no error") {
        wire w;
        w.header(5, response_flags | ns_r_nxdomain, 1, 0);
        w.question(name, ns_t_srv);
        const auto a = tp::read_dns_response(w.b, 5, name, tp::dns_type::srv);
        CHECK(a.ok);
        CHECK(a.records.empty());
    }
    SECTION("the single '.' target: the service is not available there") {
        wire w;
        w.header(5, response_flags, 1, 1);
        w.question(name, ns_t_srv);
        w.srv(0, 0, 0, "");
        const auto a = tp::read_dns_response(w.b, 5, name, tp::dns_type::srv);
        CHECK(a.ok);
        CHECK(a.records.empty());
    }
    SECTION("SERVFAIL is an error") {
        wire w;
        w.header(5, response_flags | ns_r_servfail, 1, 0);
        w.question(name, ns_t_srv);
        const auto a = tp::read_dns_response(w.b, 5, name, tp::dns_type::srv);
        CHECK_FALSE(a.ok);
        CHECK_FALSE(a.foreign);
        CHECK(a.error == "DNS server error 2");
    }
    SECTION("another id, another question, a query: foreign") {
        wire w;
        w.header(5, response_flags, 1, 0);
        w.question(name, ns_t_srv);
        CHECK(tp::read_dns_response(w.b, 6, name, tp::dns_type::srv).foreign);
        CHECK(tp::read_dns_response(w.b, 5, "_sip._tcp.example.com", tp::dns_type::srv).foreign);
        CHECK(tp::read_dns_response(w.b, 5, name, tp::dns_type::a).foreign);
        wire q;
        q.header(5, 0x0100, 1, 0);
        q.question(name, ns_t_srv);
        CHECK(tp::read_dns_response(q.b, 5, name, tp::dns_type::srv).foreign);
    }
    SECTION("TC is reported") {
        wire w;
        w.header(5, response_flags | 0x0200, 1, 0);
        w.question(name, ns_t_srv);
        CHECK(tp::read_dns_response(w.b, 5, name, tp::dns_type::srv).truncated);
    }
}

TEST_CASE("dns: every cut of a response is malformed or whole, never read past its end") {
    const std::string name = "_sip._tcp.pbx.example.com";
    wire w;
    w.header(9, response_flags, 1, 2);
    w.question(name, ns_t_srv);
    w.srv(10, 60, 5060, "a.pbx.example.com");
    w.srv(20, 0, 5070, "b.pbx.example.com");
    check_every_cut_malformed(w.b, 9, name, tp::dns_type::srv);
    CHECK(tp::read_dns_response(w.b, 9, name, tp::dns_type::srv).records.size() == 2);
    // An SRV record too short for its fixed fields.
    wire s;
    s.header(9, response_flags, 1, 1);
    s.question(name, ns_t_srv);
    s.record(name, ns_t_srv, {0, 1, 0, 1});
    CHECK(tp::read_dns_response(s.b, 9, name, tp::dns_type::srv).error == "malformed SRV record");
}

TEST_CASE("dns: A and AAAA answers, through a CNAME") {
    wire w;
    w.header(3, response_flags, 1, 3);
    w.question("sip.example.com", ns_t_a);
    wire cname;
    cname.name("pbx.example.com");
    w.record("sip.example.com", ns_t_cname, cname.b);
    w.record("pbx.example.com", ns_t_a, {192, 0, 2, 10});
    w.record("pbx.example.com", ns_t_a, {192, 0, 2, 11});
    const auto a = tp::read_dns_response(w.b, 3, "sip.example.com", tp::dns_type::a);
    REQUIRE(a.ok);
    REQUIRE(a.addresses.size() == 2);
    CHECK(a.addresses[0].to_string() == "192.0.2.10");
    CHECK(a.addresses[1].to_string() == "192.0.2.11");

    wire v6;
    v6.header(4, response_flags, 1, 1);
    v6.question("pbx.example.com", ns_t_aaaa);
    v6.record("pbx.example.com", ns_t_aaaa, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    const auto b = tp::read_dns_response(v6.b, 4, "pbx.example.com", tp::dns_type::aaaa);
    REQUIRE(b.addresses.size() == 1);
    CHECK(b.addresses[0].to_string() == "2001:db8::1");

    wire bad;
    bad.header(4, response_flags, 1, 1);
    bad.question("pbx.example.com", ns_t_a);
    bad.record("pbx.example.com", ns_t_a, {1, 2, 3});
    CHECK(tp::read_dns_response(bad.b, 4, "pbx.example.com", tp::dns_type::a).error == "malformed A record");
}

TEST_CASE("dns: RFC 2782 order: priority first, then weighted random within a priority") {
    const std::vector<tp::srv_record> records = {
        {20, 0, 1, "backup"}, {10, 90, 2, "heavy"}, {10, 10, 3, "light"}, {10, 0, 4, "zero"}, {30, 5, 5, "last"}};
    std::mt19937 rng(42);
    auto random = [&rng] { return static_cast<std::uint32_t>(rng()); };
    std::map<std::string, int> first;
    const int rounds = 20000;
    for (int i = 0; i < rounds; ++i) {
        const auto o = tp::order_srv(records, random);
        REQUIRE(o.size() == 5);
        // The priority 10 group first, in some order, then 20, then 30.
        for (int k = 0; k < 3; ++k) CHECK(o[static_cast<std::size_t>(k)].priority == 10);
        CHECK(o[3].target == "backup");
        CHECK(o[4].target == "last");
        ++first[o[0].target];
    }
    // First pick among weights 0, 10, 90 (total 100): a random number in [0, 100] against the running
    // sums 0, 90, 100 (zero-weight records lead): zero 1/101, heavy 90/101, light 10/101.
    CHECK(first["heavy"] > rounds * 0.86);
    CHECK(first["heavy"] < rounds * 0.92);
    CHECK(first["light"] > rounds * 0.08);
    CHECK(first["light"] < rounds * 0.12);
    CHECK(first["zero"] > 0);
    CHECK(first["zero"] < rounds * 0.02);
}

TEST_CASE("dns: the name server option") {
    auto ns = tp::parse_name_server("127.0.0.1:5353");
    REQUIRE(ns);
    CHECK(ns->address.to_string() == "127.0.0.1");
    CHECK(ns->port == 5353);
    ns = tp::parse_name_server("192.0.2.53");
    REQUIRE(ns);
    CHECK(ns->port == 53);
    ns = tp::parse_name_server("[::1]:5300");
    REQUIRE(ns);
    CHECK(ns->address.to_string() == "::1");
    CHECK(ns->port == 5300);
    ns = tp::parse_name_server("2001:db8::53");
    REQUIRE(ns);
    CHECK(ns->address.to_string() == "2001:db8::53");
    CHECK(ns->port == 53);
    CHECK_FALSE(tp::parse_name_server("dns.example.com"));
    CHECK_FALSE(tp::parse_name_server("127.0.0.1:0"));
    CHECK_FALSE(tp::parse_name_server("127.0.0.1:70000"));
    CHECK_FALSE(tp::parse_name_server("127.0.0.1:"));
    CHECK_FALSE(tp::parse_name_server("[::1"));
    CHECK_FALSE(tp::parse_name_server("[::1]5300"));
    CHECK(tp::parse_name_server(""));  // /etc/resolv.conf's
}

TEST_CASE("dns: an answer is kept for the least TTL of its records, CNAMEs on the way included") {
    const std::string name = "_sip._tcp.pbx.example.com";
    wire w;
    w.header(4, response_flags, 1, 2);
    w.question(name, ns_t_srv);
    w.srv(10, 60, 5060, "a.pbx.example.com", 600);
    w.srv(20, 0, 5070, "b.pbx.example.com", 120);
    CHECK(tp::read_dns_response(w.b, 4, name, tp::dns_type::srv).ttl == 120);

    wire c;
    c.header(3, response_flags, 1, 2);
    c.question("sip.example.com", ns_t_a);
    wire target;
    target.name("pbx.example.com");
    c.record("sip.example.com", ns_t_cname, target.b, 30);
    c.record("pbx.example.com", ns_t_a, {192, 0, 2, 7}, 900);
    const auto a = tp::read_dns_response(c.b, 3, "sip.example.com", tp::dns_type::a);
    REQUIRE(a.addresses.size() == 1);
    CHECK(a.ttl == 30);

    // RFC 2181 §8: a TTL with the top bit set counts as 0 (not kept).
    wire big;
    big.header(4, response_flags, 1, 1);
    big.question(name, ns_t_srv);
    big.srv(10, 60, 5060, "a.pbx.example.com", 0x80000000U);
    CHECK(tp::read_dns_response(big.b, 4, name, tp::dns_type::srv).ttl == 0);
}

TEST_CASE("dns: a negative answer is kept for its SOA's negative TTL (RFC 2308), or not at all without one") {
    const std::string name = "_sip._udp.example.com";
    SECTION("NXDOMAIN: the smaller of the SOA's TTL and MINIMUM") {
        wire w;
        w.header(5, response_flags | ns_r_nxdomain, 1, 0, 1);
        w.question(name, ns_t_srv);
        w.soa("example.com", 3600, 300);
        const auto a = tp::read_dns_response(w.b, 5, name, tp::dns_type::srv);
        CHECK(a.ok);
        CHECK(a.records.empty());
        CHECK(a.ttl == 300);
        wire x;
        x.header(5, response_flags | ns_r_nxdomain, 1, 0, 1);
        x.question(name, ns_t_srv);
        x.soa("example.com", 60, 300);
        CHECK(tp::read_dns_response(x.b, 5, name, tp::dns_type::srv).ttl == 60);
    }
    SECTION("NODATA (no records of the type): the same") {
        wire w;
        w.header(5, response_flags, 1, 0, 1);
        w.question("pbx.example.com", ns_t_aaaa);
        w.soa("example.com", 3600, 45);
        const auto a = tp::read_dns_response(w.b, 5, "pbx.example.com", tp::dns_type::aaaa);
        CHECK(a.ok);
        CHECK(a.addresses.empty());
        CHECK(a.ttl == 45);
    }
    SECTION("no SOA: 0") {
        wire w;
        w.header(5, response_flags | ns_r_nxdomain, 1, 0);
        w.question(name, ns_t_srv);
        CHECK(tp::read_dns_response(w.b, 5, name, tp::dns_type::srv).ttl == 0);
    }
    SECTION("the '.' target is an answer with the record's own TTL") {
        wire w;
        w.header(5, response_flags, 1, 1);
        w.question(name, ns_t_srv);
        w.srv(0, 0, 0, "", 86400);
        const auto a = tp::read_dns_response(w.b, 5, name, tp::dns_type::srv);
        CHECK(a.records.empty());
        CHECK(a.ttl == 86400);
    }
}

TEST_CASE("dns: NAPTR answers are read whole and put in order, then preference (RFC 3403)") {
    const std::string name = "example.com";
    wire w;
    w.header(8, response_flags, 1, 4);
    w.question(name, ns_t_naptr);
    w.naptr(20, 50, "s", "SIP+D2U", "", "_sip._udp.example.com");
    w.naptr(10, 60, "s", "SIPS+D2T", "", "_sips._tcp.example.com");
    w.naptr(10, 50, "S", "SIP+D2T", "", "_sip._tcp.example.com");
    w.naptr(5, 0, "u", "E2U+sip", "!^.*$!sip:info@example.com!", "");
    const auto a = tp::read_dns_response(w.b, 8, name, tp::dns_type::naptr);
    REQUIRE(a.ok);
    CHECK(a.ttl == 300);
    REQUIRE(a.naptrs.size() == 4);
    CHECK(a.naptrs[0] == tp::naptr_record{20, 50, "s", "SIP+D2U", "", "_sip._udp.example.com"});
    CHECK(a.naptrs[3] == tp::naptr_record{5, 0, "u", "E2U+sip", "!^.*$!sip:info@example.com!", ""});
    const auto ordered = tp::order_naptr(a.naptrs);
    REQUIRE(ordered.size() == 4);
    CHECK(ordered[0].service == "E2U+sip");
    CHECK(ordered[1].service == "SIP+D2T");
    CHECK(ordered[2].service == "SIPS+D2T");
    CHECK(ordered[3].service == "SIP+D2U");
    // Every cut of it is malformed, never read past its end; a string longer than its record too.
    check_every_cut_malformed(w.b, 8, name, tp::dns_type::naptr);
    wire bad;
    bad.header(8, response_flags, 1, 1);
    bad.question(name, ns_t_naptr);
    bad.record(name, ns_t_naptr, {0, 10, 0, 50, 1, 's', 9, 'S', 'I', 'P'});
    CHECK(tp::read_dns_response(bad.b, 8, name, tp::dns_type::naptr).error == "malformed NAPTR record");
}
