// The media of one call: sockets, offer/answer, the audio stream with its RTCP, hold and the RTP
// timeout.
#include "sipvoice/ua/call_media.hpp"

#include <cstdio>
#include <random>

namespace sipvoice::ua {
namespace {

sdp::local_media local_media_for(const media_config& cfg, std::uint16_t port, std::uint64_t session_id) {
    sdp::local_media l;
    l.address = cfg.address;
    l.port = port;
    l.codecs = cfg.codecs;
    l.telephone_event = cfg.telephone_event;
    l.rtcp_mux = cfg.sockets.rtcp_mux;
    l.session_id = session_id;
    return l;
}

// The peer should be sending RTP to us: the negotiated direction lets us receive, and the peer is
// not holding the call. remote_hold alone does not say the latter: when WE asked for recvonly, the
// peer's sendonly answer is no hold, just the answer (RFC 3264 §6.1).
bool expects_rtp(const sdp::negotiated& n, sdp::direction our_local) {
    if (!sdp::receives(n.direction)) return false;
    const bool peer_holds = n.remote_hold && sdp::sends(our_local);
    return !peer_holds;
}

std::string random_cname(std::uint64_t seed) {
    std::mt19937_64 rng(seed != 0 ? seed : std::random_device{}());
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(rng()));
    return std::string(text) + "@sipvoice";
}

}  // namespace

std::unique_ptr<call_media> call_media::create(asio::io_context& io, media_config config, std::string* error) {
    auto socket = std::make_unique<media::rtp_socket>(io, config.sockets);
    if (auto ec = socket->open()) {
        if (error) *error = "no RTP port in " + std::to_string(config.sockets.port_min) + "-" +
                            std::to_string(config.sockets.port_max) + ": " + ec.message();
        return nullptr;
    }
    return std::unique_ptr<call_media>(new call_media(io, std::move(config), std::move(socket)));
}

call_media::call_media(asio::io_context& io, media_config config, std::unique_ptr<media::rtp_socket> socket)
    : io_(io), cfg_(std::move(config)), socket_(std::move(socket)),
      oa_(local_media_for(cfg_, socket_->rtp_port(),
                          cfg_.seed != 0 ? cfg_.seed : (std::random_device{}() & 0x7fffffffU))),
      cname_(random_cname(cfg_.seed != 0 ? cfg_.seed ^ 0x9e3779b97f4a7c15ULL : 0)), rtp_timer_(io) {}

call_media::~call_media() { stop(); }

std::string call_media::offer() { return sdp::serialize(oa_.create_offer()); }

void call_media::set_direction(sdp::direction d) { oa_.local().direction = d; }

void call_media::on_offer_rejected() { oa_.cancel_offer(); }

bool call_media::on_answer(const std::string& text) {
    auto parsed = sdp::parse(text);
    if (!parsed) {
        last_status_ = 400;
        last_error_ = "unreadable SDP answer: " + std::string(parsed.error().what());
        oa_.cancel_offer();
        return false;
    }
    auto n = oa_.receive_answer(*parsed);
    if (!n) {
        last_status_ = sdp::sip_status(n.error().code);
        last_error_ = "unusable SDP answer: " + std::string(n.error().what());
        return false;
    }
    return apply(*n);
}

std::optional<std::string> call_media::answer(const std::string& offer_text) {
    auto parsed = sdp::parse(offer_text);
    if (!parsed) {
        last_status_ = 400;
        last_error_ = "unreadable SDP offer: " + std::string(parsed.error().what());
        return std::nullopt;
    }
    auto a = oa_.receive_offer(*parsed);
    if (!a) {
        last_status_ = sdp::sip_status(a.error().code);
        last_error_ = "cannot accept the SDP offer: " + std::string(a.error().what());
        return std::nullopt;
    }
    const sdp::negotiated* n = oa_.current();
    if (n == nullptr || !apply(*n)) return std::nullopt;
    return sdp::serialize(*a);
}

bool call_media::apply(const sdp::negotiated& n) {
    if (stopped_) {
        last_status_ = 488;
        last_error_ = "the media of this call was stopped";
        return false;
    }
    std::error_code ec;
    const auto rtp_addr = asio::ip::make_address(n.remote_address, ec);
    const auto rtcp_addr = asio::ip::make_address(n.remote_rtcp_address.empty() ? n.remote_address : n.remote_rtcp_address, ec);
    if (!ec) socket_->set_remote({rtp_addr, n.remote_port}, {rtcp_addr, n.remote_rtcp_port});
    // RFC 3264 §6.1: n.direction is ours after both sides had their say; it also covers the peer's
    // hold (sendonly, inactive, c=0.0.0.0 leave us recvonly or inactive).
    const bool send = sdp::sends(n.direction);
    running_local_ = oa_.local().direction;
    // The same codec and payload numbers: the running stream continues (a hold, an address change).
    if (audio_ && running_ && running_->codec == n.codec && running_->receive_payload_type == n.receive_payload_type &&
        running_->telephone_event == n.telephone_event && running_->ptime == n.ptime) {
        running_ = n;
        audio_->set_sending(send);
        watch_rtp();
        return true;
    }
    media::audio_stream_config ac;
    ac.app_rate = cfg_.app_rate;
    ac.codec = n.codec.name;
    ac.clock_rate = n.codec.clock_rate;
    ac.channels = n.codec.channels;
    ac.payload_type = n.codec.payload_type;
    ac.receive_payload_type = n.receive_payload_type;
    ac.telephone_event_payload_type = n.telephone_event ? *n.telephone_event : -1;
    ac.receive_telephone_event_payload_type = n.receive_telephone_event ? *n.receive_telephone_event : -1;
    ac.telephone_event_rate = n.telephone_event_rate != 0 ? n.telephone_event_rate : 8000;
    ac.ptime = duration(n.ptime != 0 ? n.ptime : 20);
    ac.rtcp_interval = cfg_.rtcp_interval;
    ac.cname = cname_;
    ac.send = send;
    ac.deliver_on_arrival = cfg_.low_latency;
    ac.send_on_write = cfg_.low_latency;
    std::string error;
    if (audio_) {
        // A new codec is a new stream (and SSRC: RFC 7160 §4.1 for a new clock rate); its counts
        // continue the old one's in stats().
        before_ = stats();
        audio_->stop();
    }
    audio_ = media::audio_stream::create(io_, *socket_, ac, &error);
    if (!audio_) {
        last_status_ = 488;
        last_error_ = error;
        running_.reset();
        rtp_timer_.cancel();
        watching_ = false;
        return false;
    }
    running_ = n;
    if (frame_cb_) audio_->on_frame(frame_cb_);
    if (dtmf_cb_) audio_->on_dtmf(dtmf_cb_);
    if (playing_cb_) audio_->on_playing(playing_cb_);
    audio_->start();
    watch_rtp();
    return true;
}

void call_media::watch_rtp() {
    rtp_timer_.cancel();
    watching_ = false;
    if (stopped_ || !audio_ || !running_ || cfg_.rtp_timeout.count() <= 0) return;
    if (!expects_rtp(*running_, running_local_)) return;
    watching_ = true;
    watch_from_ = clock::now();
    arm_rtp_timer(watch_from_ + cfg_.rtp_timeout);
}

void call_media::arm_rtp_timer(time_point at) {
    // One wait per timeout period, not one timer per packet: when it expires, the last packet's
    // arrival says whether the time is really up or when to look again.
    rtp_timer_.expires_at(at);
    std::weak_ptr<int> alive = alive_;
    rtp_timer_.async_wait([this, alive](std::error_code ec) {
        if (ec || alive.expired()) return;
        check_rtp();
    });
}

void call_media::check_rtp() {
    if (!watching_ || stopped_ || !audio_) return;
    time_point last = watch_from_;
    if (const auto heard = audio_->stats().last_received; heard && *heard > last) last = *heard;
    const time_point now = clock::now();
    if (now - last < cfg_.rtp_timeout) {
        arm_rtp_timer(last + cfg_.rtp_timeout);
        return;
    }
    watching_ = false;  // once per negotiation; a new exchange watches again
    if (timeout_cb_) {
        auto cb = timeout_cb_;  // the handler may hang up and destroy us
        cb();
    }
}

std::string call_media::codec_name() const {
    if (!running_) return "none";
    return running_->codec.name + "/" + std::to_string(running_->codec.clock_rate);
}

void call_media::stop() {
    if (stopped_) return;
    stopped_ = true;
    watching_ = false;
    rtp_timer_.cancel();
    if (audio_) {
        audio_->send_bye();  // RFC 3550 §6.6; nothing when RTCP is off
        audio_->stop();
    }
    socket_->close();
}

void call_media::on_frame(media::audio_stream::frame_handler handler) {
    frame_cb_ = handler;
    if (audio_) audio_->on_frame(std::move(handler));
}

void call_media::on_dtmf(media::audio_stream::dtmf_handler handler) {
    dtmf_cb_ = handler;
    if (audio_) audio_->on_dtmf(std::move(handler));
}

void call_media::on_playing(std::function<void(time_point)> handler) {
    playing_cb_ = handler;
    if (audio_) audio_->on_playing(std::move(handler));
}

void call_media::on_rtp_timeout(std::function<void()> handler) { timeout_cb_ = std::move(handler); }

media_stats call_media::stats() const {
    media_stats s = before_;
    if (!audio_) return s;
    const media::audio_stream_stats a = audio_->stats();
    s.packets_sent += a.packets_sent;
    s.packets_received += a.packets_received;
    s.packets_lost += a.packets_lost;
    if (a.packets_received > 0) s.jitter_ms = static_cast<double>(a.interarrival_jitter.count()) / 1000.0;
    if (a.round_trip) s.rtt_ms = static_cast<double>(a.round_trip->count()) / 1000.0;
    if (a.remote_report) {
        s.remote_fraction_lost = a.remote_report->fraction_lost / 256.0;
        s.remote_packets_lost = before_.remote_packets_lost + a.remote_report->cumulative_lost;
    }
    s.rtcp_sent += a.rtcp_sent;
    s.rtcp_received += a.rtcp_received;
    s.remote_bye = s.remote_bye || a.byes_received > 0;
    return s;
}

}  // namespace sipvoice::ua
