// sipvoice/transport/dns.hpp: DNS NAPTR and SRV lookups (RFC 3403, RFC 2782) for locating SIP
// servers (RFC 3263 §4.1, §4.2).
//
// A domain that runs its SIP service elsewhere, or only over TCP or TLS, says so with SRV records:
// "_sip._tcp.example.com. SRV 10 60 5060 pbx1.example.com." The user agent asks for them when a URI
// names a host (not an address) and no port, and then looks up the address of the target it picked.
// A domain may also say which transport it prefers with NAPTR records ("example.com. NAPTR 10 50
// "s" "SIP+D2T" "" _sip._tcp.example.com."); the user agent asks for those first when the URI names
// no transport either.
//
// The query and the response are built and read with the C library's resolver functions (libresolv);
// srv_resolver sends them over UDP on the io_context, so a lookup never blocks the thread, and keeps
// each answer for its TTL (at most an hour), so that the requests of a call to a domain do not ask
// again. With a DNS server of its own configured, the user agent also looks the chosen target's
// address up through it.
//
//   transport::srv_resolver dns(io);                 // the name server of /etc/resolv.conf
//   dns.lookup("_sip._tcp.example.com", [](std::vector<transport::srv_record> r, std::string error) {
//       // r in RFC 2782 order: try r[0] first. Empty with no error: the name has no SRV records;
//       // an error: no usable answer (no server, a timeout, a server failure, a malformed response)
//   });
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>

namespace sipvoice::transport {

struct srv_record {
    std::uint16_t priority = 0;
    std::uint16_t weight = 0;
    std::uint16_t port = 0;
    std::string target;  // a host name, without the final dot

    bool operator==(const srv_record&) const = default;
};

// RFC 3403 §4.1. For SIP (RFC 3263 §4.1) flags is "s", service "SIP+D2U", "SIP+D2T" or "SIPS+D2T",
// regexp empty, and replacement the SRV name to ask next.
struct naptr_record {
    std::uint16_t order = 0;
    std::uint16_t preference = 0;
    std::string flags;
    std::string service;
    std::string regexp;
    std::string replacement;  // a domain name, without the final dot; empty for "."

    bool operator==(const naptr_record&) const = default;
};

enum class dns_type : std::uint16_t { a = 1, aaaa = 28, srv = 33, naptr = 35 };

// A standard query (recursion desired) for the `type` records of `name`, with the given id; empty
// when the name cannot be encoded (a label longer than 63 bytes, a name longer than 253).
std::vector<std::uint8_t> make_dns_query(std::string_view name, dns_type type, std::uint16_t id);

// What a response says. ok with no records is a name without such records (NXDOMAIN, NODATA, or for
// SRV the single "." target of RFC 2782: the service is decidedly not available there).
struct dns_answer {
    bool ok = false;
    std::string error;     // when !ok: why the response is no answer to the query
    bool foreign = false;  // not the answer to this query at all (another id or question): ignore it
    bool truncated = false;
    std::vector<srv_record> records;              // SRV
    std::vector<asio::ip::address> addresses;     // A / AAAA
    std::vector<naptr_record> naptrs;             // NAPTR, in the order of the response
    // How many seconds the answer may be kept: the least TTL of the records read (RFC 1035 §3.2.1);
    // for a name without such records, the SOA's negative-caching TTL (RFC 2308 §5), or 0 without one.
    std::uint32_t ttl = 0;
};
// Reads the response to query `id` for the `type` records of `name`: its id, question and answers
// (CNAMEs on the way are skipped: a recursive server puts the records of the final name after them).
// Never reads outside `response`; anything malformed is !ok.
dns_answer read_dns_response(std::span<const std::uint8_t> response, std::uint16_t id, std::string_view name, dns_type type);

// RFC 3403 §4.1 order: lower order first, then lower preference; the response's order among equals.
std::vector<naptr_record> order_naptr(std::vector<naptr_record> records);

// RFC 2782 order: lower priority first; within one priority a weighted random order (a record of
// weight 0 has a small chance only when others have weight). `random` draws the numbers.
std::vector<srv_record> order_srv(std::vector<srv_record> records, const std::function<std::uint32_t()>& random);

// The name server `text` names: "IP", "IP:PORT" or "[IPv6]:PORT" (port 53 by default); empty text:
// the first name server of /etc/resolv.conf (127.0.0.1 when it names none).
struct name_server {
    asio::ip::address address;
    std::uint16_t port = 53;
};
std::optional<name_server> parse_name_server(std::string_view text);

class srv_resolver {
public:
    using handler = std::function<void(std::vector<srv_record> records, std::string error)>;
    using address_handler = std::function<void(std::vector<asio::ip::address> addresses, std::string error)>;
    using naptr_handler = std::function<void(std::vector<naptr_record> records, std::string error)>;

    // `server`: as parse_name_server() takes it; an unusable one makes every lookup fail with that error.
    explicit srv_resolver(asio::io_context& io, std::string server = {});
    ~srv_resolver();  // lookups under way end without their handlers being called
    srv_resolver(const srv_resolver&) = delete;
    srv_resolver& operator=(const srv_resolver&) = delete;

    // Over UDP, `tries` times with `timeout` each (2 x 1 s by default); the handler runs on the
    // io_context thread, once: the records in RFC 2782 order, none (the name has no SRV records), or
    // none and an error saying why there is no answer.
    void lookup(const std::string& name, handler done);
    // The A records of `name`, else its AAAA records; the same rules.
    void lookup_address(const std::string& name, address_handler done);
    // The NAPTR records of `name` in RFC 3403 order; the same rules.
    void lookup_naptr(const std::string& name, naptr_handler done);
    void set_timeout(std::chrono::milliseconds timeout, int tries);
    // Answers are kept for their TTL, but never longer than `max_ttl` (1 hour by default; 0: not
    // kept at all). Errors (no answer, a server failure) are never kept.
    void set_cache_limit(std::chrono::seconds max_ttl);
    // How many questions went to the name server (a lookup answered from the cache asks none).
    [[nodiscard]] std::uint64_t queries_sent() const noexcept;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace sipvoice::transport
