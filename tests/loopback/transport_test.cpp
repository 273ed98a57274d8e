// transport/ over real 127.0.0.1 sockets: UDP, TCP and TLS between two sip_transports, framing of a
// byte stream written by a raw client, keep-alives, limits, and the received/rport stamp.
#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/read.hpp>
#include <asio/ssl/error.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <optional>
#include <vector>

#include "../unit/loopback.hpp"
#include "sipvoice/transport/stun.hpp"
#include "sipvoice/transport/transport.hpp"

using namespace sipvoice;
using transport::protocol;
namespace stun = transport::stun;
using test::run_until;

namespace {

const asio::ip::address loopback = asio::ip::make_address("127.0.0.1");

transport::transport_config local_config() {
    transport::transport_config c;
    c.bind_address = "127.0.0.1";
    c.udp_port = c.tcp_port = c.tls_port = 0;
    return c;
}

std::string options_request(std::string_view via_transport, std::string_view branch = "z9hG4bKtest1") {
    return "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n"
           "Via: SIP/2.0/" + std::string(via_transport) + " 127.0.0.1:5999;branch=" + std::string(branch) + ";rport\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\n"
           "Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
}

struct received {
    std::vector<sip::message> messages;
    std::vector<transport::flow> flows;
    std::vector<std::error_code> closed;
};

void collect(transport::sip_transport& t, received& r) {
    t.on_message([&r](sip::message m, const transport::flow& f) {
        r.messages.push_back(std::move(m));
        r.flows.push_back(f);
    });
    t.on_closed([&r](const transport::flow&, std::error_code ec) { r.closed.push_back(ec); });
}

}  // namespace

TEST_CASE("UDP: a request and its response along the flow", "[transport][loopback]") {
    asio::io_context io;
    transport::sip_transport a(io, local_config()), b(io, local_config());
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    REQUIRE(a.local_port(protocol::udp) != 0);
    received ra, rb;
    collect(a, ra);
    collect(b, rb);
    std::optional<std::error_code> sent;
    a.send(protocol::udp, {loopback, b.local_port(protocol::udp)}, options_request("UDP"), [&](std::error_code ec) { sent = ec; });
    REQUIRE(run_until(io, [&] { return !rb.messages.empty(); }));
    CHECK(sent == std::error_code());
    CHECK(rb.messages[0].method_name() == "OPTIONS");
    CHECK(rb.flows[0].proto == protocol::udp);
    CHECK(rb.flows[0].remote.port == a.local_port(protocol::udp));
    b.send(rb.flows[0], "SIP/2.0/UDP 200 OK\r\n", {});  // not SIP: dropped by a
    b.send(rb.flows[0],
           "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKtest1\r\nFrom: <sip:a@x>;tag=1\r\n"
           "To: <sip:b@x>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
           {});
    REQUIRE(run_until(io, [&] { return !ra.messages.empty(); }));
    CHECK(ra.messages[0].status() == 200);
    CHECK(ra.messages.size() == 1);
}

TEST_CASE("UDP: keep-alive datagrams are ignored, oversized ones dropped", "[transport][loopback]") {
    asio::io_context io;
    auto cfg = local_config();
    cfg.max_message_size = 300;
    transport::sip_transport a(io, local_config()), b(io, cfg);
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    received rb;
    collect(b, rb);
    const transport::endpoint to{loopback, b.local_port(protocol::udp)};
    a.send(protocol::udp, to, "\r\n\r\n", {});
    a.send(protocol::udp, to, options_request("UDP") + std::string(400, 'x'), {});
    a.send(protocol::udp, to, options_request("UDP", "z9hG4bKsecond"), {});
    REQUIRE(run_until(io, [&] { return !rb.messages.empty(); }));
    io.run_for(std::chrono::milliseconds(50));
    REQUIRE(rb.messages.size() == 1);
    CHECK(rb.messages[0].top_via()->branch == "z9hG4bKsecond");
}

TEST_CASE("TCP: one connection per peer, reused both ways", "[transport][loopback]") {
    asio::io_context io;
    transport::sip_transport a(io, local_config()), b(io, local_config());
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    received ra, rb;
    collect(a, ra);
    collect(b, rb);
    const transport::endpoint to{loopback, b.local_port(protocol::tcp)};
    a.send(protocol::tcp, to, options_request("TCP", "z9hG4bK1"), {});
    a.send(protocol::tcp, to, options_request("TCP", "z9hG4bK2"), {});  // queued behind the connect
    REQUIRE(run_until(io, [&] { return rb.messages.size() == 2; }));
    CHECK(a.connection_count() == 1);
    CHECK(b.connection_count() == 1);
    CHECK(rb.flows[0].connection == rb.flows[1].connection);
    CHECK(rb.messages[1].top_via()->branch == "z9hG4bK2");
    // The answer goes back over the same connection (RFC 3261 §18.2.2).
    b.send(rb.flows[0],
           "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\n"
           "To: <sip:b@x>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
           {});
    REQUIRE(run_until(io, [&] { return !ra.messages.empty(); }));
    CHECK(ra.flows[0].remote.port == b.local_port(protocol::tcp));
    CHECK(a.connection_count() == 1);
    CHECK(b.connection_count() == 1);
}

TEST_CASE("TCP: connection refused reaches the sender", "[transport][loopback]") {
    asio::io_context io;
    transport::sip_transport a(io, local_config());
    REQUIRE_FALSE(a.start());
    // A port nobody listens on: bind one and close it again.
    std::uint16_t dead = 0;
    {
        asio::ip::tcp::acceptor probe(io, {loopback, 0});
        dead = probe.local_endpoint().port();
    }
    std::optional<std::error_code> result;
    received ra;
    collect(a, ra);
    a.send(protocol::tcp, {loopback, dead}, options_request("TCP"), [&](std::error_code ec) { result = ec; });
    REQUIRE(run_until(io, [&] { return result.has_value(); }));
    CHECK(*result == asio::error::connection_refused);
    CHECK(a.connection_count() == 0);
}

TEST_CASE("TCP: a raw byte stream is framed; pings are answered", "[transport][loopback]") {
    asio::io_context io;
    transport::sip_transport b(io, local_config());
    REQUIRE_FALSE(b.start());
    received rb;
    collect(b, rb);
    asio::ip::tcp::socket raw(io);
    raw.connect({loopback, b.local_port(protocol::tcp)});
    const std::string two = "\r\n\r\n" + options_request("TCP", "z9hG4bKa") + options_request("TCP", "z9hG4bKb");
    for (char c : two) asio::write(raw, asio::buffer(&c, 1));  // one byte per write
    REQUIRE(run_until(io, [&] { return rb.messages.size() == 2; }));
    std::array<char, 2> pong{};
    asio::read(raw, asio::buffer(pong));  // RFC 5626 §4.4.1: the CRLFCRLF ping is answered by CRLF
    CHECK(std::string_view(pong.data(), 2) == "\r\n");
    CHECK(rb.messages[1].top_via()->branch == "z9hG4bKb");
}

TEST_CASE("TCP: an oversized header section closes the connection", "[transport][loopback]") {
    asio::io_context io;
    auto cfg = local_config();
    cfg.max_message_size = 512;
    transport::sip_transport b(io, cfg);
    REQUIRE_FALSE(b.start());
    received rb;
    collect(b, rb);
    asio::ip::tcp::socket raw(io);
    raw.connect({loopback, b.local_port(protocol::tcp)});
    asio::write(raw, asio::buffer("OPTIONS sip:b@x SIP/2.0\r\nX-Big: " + std::string(2000, 'a') + "\r\n"));
    REQUIRE(run_until(io, [&] { return !rb.closed.empty(); }));
    CHECK(rb.messages.empty());
    CHECK(b.connection_count() == 0);
}

TEST_CASE("TCP: idle connections are closed, and the connection limit holds", "[transport][loopback]") {
    asio::io_context io;
    auto cfg = local_config();
    cfg.idle_timeout = std::chrono::milliseconds(200);
    cfg.max_connections = 2;
    transport::sip_transport b(io, cfg);
    REQUIRE_FALSE(b.start());
    received rb;
    collect(b, rb);
    std::vector<std::unique_ptr<asio::ip::tcp::socket>> raws;
    for (int i = 0; i < 3; ++i) {
        raws.push_back(std::make_unique<asio::ip::tcp::socket>(io));
        raws.back()->connect({loopback, b.local_port(protocol::tcp)});
        run_until(io, [&] { return b.connection_count() == static_cast<std::size_t>(std::min(i + 1, 2)); }, std::chrono::milliseconds(500));
    }
    CHECK(b.connection_count() == 2);  // the third was refused
    // An attacker's idle connections do not stay: all are closed by the idle timeout.
    REQUIRE(run_until(io, [&] { return b.connection_count() == 0; }));
    CHECK(rb.closed.size() == 2);
    CHECK(rb.closed[0] == asio::error::timed_out);
}

TEST_CASE("TLS: verified against the CA file, refused without it, allowed with the opt-out", "[transport][loopback]") {
    const test::test_certificate cert = test::make_test_certificate();
    asio::io_context io;
    auto server_cfg = local_config();
    server_cfg.tls_settings.certificate_file = cert.cert_file;
    server_cfg.tls_settings.private_key_file = cert.key_file;
    transport::sip_transport b(io, server_cfg);
    REQUIRE_FALSE(b.start());
    REQUIRE(b.local_port(protocol::tls) != 0);
    received rb;
    collect(b, rb);
    const transport::endpoint to{loopback, b.local_port(protocol::tls)};

    SECTION("trusted CA") {
        auto cfg = local_config();
        cfg.tls_settings.ca_file = cert.cert_file;
        transport::sip_transport a(io, cfg);
        REQUIRE_FALSE(a.start());
        CHECK(a.local_port(protocol::tls) == 0);  // no certificate: a TLS client only
        std::optional<std::error_code> sent;
        a.send(protocol::tls, to, options_request("TLS"), [&](std::error_code ec) { sent = ec; }, "127.0.0.1");
        REQUIRE(run_until(io, [&] { return !rb.messages.empty(); }));
        CHECK(sent == std::error_code());
        CHECK(rb.flows[0].proto == protocol::tls);
    }
    SECTION("trusted CA but another name") {
        auto cfg = local_config();
        cfg.tls_settings.ca_file = cert.cert_file;
        transport::sip_transport a(io, cfg);
        REQUIRE_FALSE(a.start());
        std::optional<std::error_code> sent;
        a.send(protocol::tls, to, options_request("TLS"), [&](std::error_code ec) { sent = ec; }, "pbx.example.com");
        REQUIRE(run_until(io, [&] { return sent.has_value(); }));
        CHECK(*sent);
        CHECK(rb.messages.empty());
    }
    SECTION("unknown CA") {
        auto cfg = local_config();
        cfg.tls_settings.ca_dir = cert.dir.string() + "/empty";
        std::filesystem::create_directories(cfg.tls_settings.ca_dir);
        transport::sip_transport a(io, cfg);
        REQUIRE_FALSE(a.start());
        std::optional<std::error_code> sent;
        a.send(protocol::tls, to, options_request("TLS"), [&](std::error_code ec) { sent = ec; }, "127.0.0.1");
        REQUIRE(run_until(io, [&] { return sent.has_value(); }));
        CHECK(*sent);
        CHECK(sent->category() == asio::error::get_ssl_category());
        CHECK(rb.messages.empty());
    }
    SECTION("verification switched off") {
        auto cfg = local_config();
        cfg.tls_settings.ca_dir = cert.dir.string() + "/empty";
        std::filesystem::create_directories(cfg.tls_settings.ca_dir);
        cfg.tls_settings.verify_peer = false;
        transport::sip_transport a(io, cfg);
        REQUIRE_FALSE(a.start());
        a.send(protocol::tls, to, options_request("TLS"), {}, "127.0.0.1");
        REQUIRE(run_until(io, [&] { return !rb.messages.empty(); }));
    }
    std::filesystem::remove_all(cert.dir);
}

TEST_CASE("stamp_received adds received and rport (RFC 3261 §18.2.1, RFC 3581)", "[transport]") {
    auto parse = [](std::string s) { return std::move(*sip::message::parse(std::move(s))); };
    const std::string req =
        "OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx;rport, SIP/2.0/UDP p:5060;branch=z9hG4bKy\r\n"
        "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    const transport::endpoint src{asio::ip::make_address("192.0.2.7"), 40000};
    sip::message m = transport::stamp_received(parse(req), src);
    auto vias = m.vias();
    auto it = vias.begin();
    CHECK((*it)->received == "192.0.2.7");
    CHECK((*it)->rport == 40000);
    CHECK((*it)->branch == "z9hG4bKx");
    ++it;
    CHECK((*it)->received.empty());  // only the top Via

    // Same host, no rport: nothing to add.
    const std::string plain =
        "OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKx\r\n"
        "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    CHECK(transport::stamp_received(parse(plain), src).bytes() == plain);
    // Another host without rport: received only.
    const transport::endpoint other{asio::ip::make_address("2001:db8::9"), 5070};
    sip::message v6 = transport::stamp_received(parse(plain), other);
    CHECK(v6.top_via()->received == "2001:db8::9");
    CHECK_FALSE(v6.top_via()->has_rport);
}

TEST_CASE("TLS: a host name is verified against the certificate's DNS name", "[transport][loopback]") {
    const test::test_certificate cert = test::make_test_certificate();
    asio::io_context io;
    auto server_cfg = local_config();
    server_cfg.tls_settings.certificate_file = cert.cert_file;
    server_cfg.tls_settings.private_key_file = cert.key_file;
    transport::sip_transport b(io, server_cfg);
    REQUIRE_FALSE(b.start());
    received rb;
    collect(b, rb);
    auto cfg = local_config();
    cfg.tls_settings.ca_file = cert.cert_file;
    transport::sip_transport a(io, cfg);
    REQUIRE_FALSE(a.start());
    std::optional<std::error_code> sent;
    // "localhost" is in the certificate's subjectAltName, and goes out as SNI.
    a.send(protocol::tls, {loopback, b.local_port(protocol::tls)}, options_request("TLS"), [&](std::error_code ec) { sent = ec; },
           "localhost");
    REQUIRE(run_until(io, [&] { return !rb.messages.empty(); }));
    CHECK(sent == std::error_code());
    std::filesystem::remove_all(cert.dir);
}

namespace {
// A TCP peer that reads what comes, counts the CRLF pings, and answers each with a pong or not.
struct ping_peer {
    asio::ip::tcp::acceptor acceptor;
    asio::ip::tcp::socket socket;
    std::array<char, 4096> buf{};
    std::string seen;
    bool answer = true;
    bool message_done = false;
    int pings = 0;
    explicit ping_peer(asio::io_context& io) : acceptor(io, {loopback, 0}), socket(io) {
        acceptor.async_accept(socket, [this](std::error_code ec) {
            if (!ec) read();
        });
    }
    void read() {
        socket.async_read_some(asio::buffer(buf), [this](std::error_code ec, std::size_t n) {
            if (ec) return;
            seen.append(buf.data(), n);
            if (!message_done) {  // first the OPTIONS that opened the connection
                const std::size_t end = seen.find("\r\n\r\n");
                if (end == std::string::npos) return read();
                seen.erase(0, end + 4);
                message_done = true;
            }
            while (seen.size() >= 4 && seen.compare(0, 4, "\r\n\r\n") == 0) {
                seen.erase(0, 4);
                ++pings;
                if (answer) asio::write(socket, asio::buffer(std::string("\r\n")));
            }
            read();
        });
    }
    [[nodiscard]] transport::endpoint where() const { return {loopback, acceptor.local_endpoint().port()}; }
};
}  // namespace

TEST_CASE("TCP: an outbound flow's pings must be answered within the pong timeout (RFC 5626 §4.4.1)", "[transport][loopback][outbound]") {
    asio::io_context io;
    auto cfg = local_config();
    cfg.keepalive_interval = {};  // no pings until the flow asks for them
    transport::sip_transport a(io, cfg);
    REQUIRE_FALSE(a.start());
    received ra;
    collect(a, ra);
    ping_peer peer(io);
    bool sent = false;
    a.send(protocol::tcp, peer.where(), options_request("TCP"), [&](std::error_code ec) { sent = !ec; });
    REQUIRE(run_until(io, [&] { return sent; }));
    CHECK_FALSE(a.set_keepalive(protocol::tcp, {loopback, 1}, std::chrono::milliseconds(100), std::chrono::milliseconds(300)));

    SECTION("answered: the connection stays, pinged again and again") {
        REQUIRE(a.set_keepalive(protocol::tcp, peer.where(), std::chrono::milliseconds(100), std::chrono::milliseconds(300)));
        REQUIRE(run_until(io, [&] { return peer.pings >= 5; }, std::chrono::milliseconds(3000)));
        CHECK(ra.closed.empty());
        CHECK(a.connection_count() == 1);
    }
    SECTION("unanswered: the connection is closed as timed out after the first ping") {
        peer.answer = false;
        REQUIRE(a.set_keepalive(protocol::tcp, peer.where(), std::chrono::milliseconds(100), std::chrono::milliseconds(300)));
        REQUIRE(run_until(io, [&] { return !ra.closed.empty(); }, std::chrono::milliseconds(3000)));
        CHECK(ra.closed[0] == asio::error::timed_out);
        CHECK(peer.pings == 1);
        CHECK(a.connection_count() == 0);
    }
    SECTION("no pong timeout: unanswered pings go on, the connection stays") {
        peer.answer = false;
        REQUIRE(a.set_keepalive(protocol::tcp, peer.where(), std::chrono::milliseconds(100), {}));
        REQUIRE(run_until(io, [&] { return peer.pings >= 4; }, std::chrono::milliseconds(3000)));
        CHECK(ra.closed.empty());
    }
}

TEST_CASE("UDP: a STUN keep-alive learns the mapped address, and times out after its retransmissions (RFC 5626 §4.4.2)",
          "[transport][loopback][outbound]") {
    asio::io_context io;
    transport::sip_transport a(io, local_config());
    REQUIRE_FALSE(a.start());
    asio::ip::udp::socket server(io, {loopback, 0});
    const transport::endpoint where{loopback, server.local_endpoint().port()};
    bool answer = true;
    int requests = 0;
    std::array<char, 1500> buf{};
    asio::ip::udp::endpoint from;
    std::function<void()> serve = [&] {
        server.async_receive_from(asio::buffer(buf), from, [&](std::error_code ec, std::size_t n) {
            if (ec) return;
            const std::string d(buf.data(), n);
            if (stun::is_stun(d) && n == 20 && d[0] == 0 && d[1] == 1) {
                ++requests;
                stun::transaction_id tid{};
                std::copy(d.begin() + 8, d.end(), tid.begin());
                if (answer) server.send_to(asio::buffer(stun::binding_success(tid, {from.address(), from.port()})), from);
            }
            serve();
        });
    };
    serve();
    std::optional<transport::endpoint> mapped;
    std::error_code result;
    bool done = false;
    auto handler = [&](std::optional<transport::endpoint> m, std::error_code ec) {
        mapped = m;
        result = ec;
        done = true;
    };
    SECTION("answered") {
        a.stun_ping(where, std::chrono::milliseconds(2000), handler);
        REQUIRE(run_until(io, [&] { return done; }));
        CHECK_FALSE(result);
        REQUIRE(mapped);
        CHECK(*mapped == transport::endpoint{loopback, a.local_port(protocol::udp)});  // the SIP socket sent it
        CHECK(requests == 1);
    }
    SECTION("unanswered: sent again at 0.5 s, then given up at the timeout") {
        answer = false;
        a.stun_ping(where, std::chrono::milliseconds(1200), handler);
        REQUIRE(run_until(io, [&] { return done; }, std::chrono::milliseconds(5000)));
        CHECK(result == asio::error::timed_out);
        CHECK_FALSE(mapped);
        CHECK(requests == 2);
    }
}
