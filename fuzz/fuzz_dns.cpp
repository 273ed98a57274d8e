// fuzz_dns: DNS responses (transport/dns: read_dns_response, order_srv, make_dns_query).
//
// Input: one byte choosing the record type (SRV, A, AAAA, NAPTR), two bytes of query id, then the response.
// The response is read once against a fixed name and once against the name its own question carries
// (so that the answers are reached), for the chosen type.
// Properties:
//  - never a crash or a read outside the input;
//  - a failure has an error and no records; an answer has no SRV record without a target or a port,
//    addresses of the asked family only, and a TTL below 2^31 (RFC 2181 §8);
//  - RFC 2782 order keeps every record and puts the priorities in rising order; RFC 3403 order
//    keeps every NAPTR record and sorts them by order, then preference;
//  - the query for the question's name is well formed and asks that name.
#include <arpa/nameser.h>
#include <resolv.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "fuzz_common.hpp"
#include "sipvoice/transport/dns.hpp"

namespace {
using namespace sipvoice::transport;

void check(const dns_answer& a, dns_type type, std::uint32_t seed) {
    if (!a.ok) {
        FUZZ_CHECK(!a.error.empty());
        FUZZ_CHECK(a.records.empty() && a.addresses.empty());
        return;
    }
    for (const srv_record& r : a.records) FUZZ_CHECK(!r.target.empty() && r.port != 0);
    FUZZ_CHECK(a.ttl <= 0x7fffffffU);
    for (const auto& addr : a.addresses) FUZZ_CHECK(type == dns_type::a ? addr.is_v4() : addr.is_v6());
    if (type != dns_type::srv) FUZZ_CHECK(a.records.empty());
    if (type != dns_type::naptr) FUZZ_CHECK(a.naptrs.empty());
    if (type == dns_type::srv || type == dns_type::naptr) FUZZ_CHECK(a.addresses.empty());
    const auto naptrs = order_naptr(a.naptrs);
    FUZZ_CHECK(naptrs.size() == a.naptrs.size());
    for (std::size_t i = 1; i < naptrs.size(); ++i)
        FUZZ_CHECK(naptrs[i - 1].order < naptrs[i].order ||
                   (naptrs[i - 1].order == naptrs[i].order && naptrs[i - 1].preference <= naptrs[i].preference));
    std::uint32_t state = seed | 1;
    const auto ordered = order_srv(a.records, [&state] {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    });
    FUZZ_CHECK(ordered.size() == a.records.size());
    for (std::size_t i = 1; i < ordered.size(); ++i) FUZZ_CHECK(ordered[i - 1].priority <= ordered[i].priority);
    for (const srv_record& r : a.records)
        FUZZ_CHECK(std::count(ordered.begin(), ordered.end(), r) == std::count(a.records.begin(), a.records.end(), r));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    const dns_type types[] = {dns_type::srv, dns_type::a, dns_type::aaaa, dns_type::naptr};
    const dns_type type = types[data[0] % 4];
    const auto id = static_cast<std::uint16_t>((data[1] << 8) | data[2]);
    const std::span<const std::uint8_t> response(data + 3, size - 3);
    check(read_dns_response(response, id, "_sip._tcp.pbx.test", type), type, id);
    // The name the response's own question carries, read by the C library as the resolver reads it.
    ns_msg msg;
    ns_rr q;
    if (response.size() > HFIXEDSZ && ns_initparse(response.data(), static_cast<int>(response.size()), &msg) == 0 &&
        ns_msg_count(msg, ns_s_qd) >= 1 && ns_parserr(&msg, ns_s_qd, 0, &q) == 0) {
        const std::string name = ns_rr_name(q);
        check(read_dns_response(response, id, name, type), type, id);
        const auto query = make_dns_query(name, type, id);
        if (!query.empty()) {
            ns_msg m;
            ns_rr rr;
            FUZZ_CHECK(ns_initparse(query.data(), static_cast<int>(query.size()), &m) == 0);
            FUZZ_CHECK(ns_msg_id(m) == id && ns_msg_count(m, ns_s_qd) == 1);
            FUZZ_CHECK(ns_parserr(&m, ns_s_qd, 0, &rr) == 0);
            FUZZ_CHECK(ns_rr_type(rr) == static_cast<int>(type));
        }
    }
    return 0;
}
