// The libcurl Transport: one easy handle, reused, so the connection is kept alive. Plain
// http:// is accepted only to loopback: anywhere else the device token and case data would
// cross the network unencrypted, so such a URL is refused before any request is made.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "eropaf/sync.hpp"

namespace eropaf::sync {
namespace {

class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(CurlOptions o) : opts_(std::move(o)), curl_(curl_easy_init()) {}
  ~CurlTransport() override {
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
  }

  bool ok() const { return curl_ != nullptr; }

  Result<HttpResponse> send(const HttpRequest& req) override {
    cancelled_ = false;
    HttpResponse res;
    body_.clear();
    too_large_ = false;
    std::string url = opts_.base_url;
    while (!url.empty() && url.back() == '/') url.pop_back();
    url += req.path;
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, ("Content-Type: " + req.content_type).c_str());
    headers = curl_slist_append(headers, "Expect:");
    if (!req.bearer_token.empty()) {
      headers = curl_slist_append(headers, ("Authorization: Bearer " + req.bearer_token).c_str());
    }
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    if (req.method == "POST") {
      curl_easy_setopt(curl_, CURLOPT_POST, 1L);
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(req.body.size()));
    } else {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(opts_.connect_timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &CurlTransport::onData);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, &CurlTransport::onProgress);
    curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, this);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, opts_.verify_tls ? 1L : 0L);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, opts_.verify_tls ? 2L : 0L);
    if (!opts_.ca_file.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, opts_.ca_file.c_str());
    const CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (too_large_) {
      return Status(ErrorCode::kTooLarge, "the server's answer is larger than " +
                                              std::to_string(opts_.max_response_bytes) + " bytes");
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK) return Status(ErrorCode::kCancelled, "request cancelled");
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return Status(ErrorCode::kTimeout, "no answer from " + opts_.base_url + " in time");
    }
    if (rc != CURLE_OK) {
      return Status(ErrorCode::kNetwork,
                    "cannot reach " + opts_.base_url + ": " + curl_easy_strerror(rc));
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    char* ct = nullptr;
    curl_easy_getinfo(curl_, CURLINFO_CONTENT_TYPE, &ct);
    res.status = static_cast<int>(status);
    res.content_type = ct != nullptr ? ct : "";
    res.body = std::move(body_);
    return res;
  }

  void cancel() override { cancelled_ = true; }

 private:
  static size_t onData(char* data, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<CurlTransport*>(self_ptr);
    const size_t bytes = size * n;
    if (self->body_.size() + bytes > self->opts_.max_response_bytes) {
      self->too_large_ = true;
      return 0;  // makes libcurl stop with a write error
    }
    self->body_.append(data, bytes);
    return bytes;
  }

  static int onProgress(void* self_ptr, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<CurlTransport*>(self_ptr)->cancelled_.load() ? 1 : 0;
  }

  CurlOptions opts_;
  CURL* curl_;
  std::string body_;
  bool too_large_ = false;
  std::atomic<bool> cancelled_{false};
};

/// 127.0.0.0/8 written as a dotted quad, ::1, or the name localhost.
bool isLoopbackHost(std::string host) {
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (host == "localhost" || host == "[::1]" || host == "::1") return true;
  if (host.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (const char c : host) {
    if (c == '.') {
      ++dots;
    } else if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
      return false;
    }
  }
  return dots == 3;
}

/// kInvalidArgument (field server_url) for a URL the transport must not use.
Status checkServerUrl(const std::string& url) {
  const bool http = url.rfind("http://", 0) == 0;
  if (!http && url.rfind("https://", 0) != 0) {
    return Status(ErrorCode::kInvalidArgument, "server URL must start with http:// or https://",
                  "server_url");
  }
  CURLU* u = curl_url();
  if (u == nullptr) return Status(ErrorCode::kInternal, "libcurl could not parse a URL");
  char* host = nullptr;
  const bool parsed = curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
                      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK;
  const std::string h = host != nullptr ? host : "";
  curl_free(host);
  curl_url_cleanup(u);
  if (!parsed || h.empty()) {
    return Status(ErrorCode::kInvalidArgument, "server URL '" + url + "' has no host",
                  "server_url");
  }
  if (http && !isLoopbackHost(h)) {
    return Status(ErrorCode::kInvalidArgument,
                  "refusing plain http:// to " + h +
                      ": the device token and case data would cross the network unencrypted; "
                      "use https:// (http:// is allowed only to 127.0.0.1, ::1 or localhost)",
                  "server_url");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Transport>> makeCurlTransport(CurlOptions options) {
  // libcurl's one piece of process-wide set-up; thread-safe since 7.84, done once.
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  EROPAF_RETURN_IF_ERROR(checkServerUrl(options.base_url));
  auto t = std::make_unique<CurlTransport>(std::move(options));
  if (!t->ok()) return Status(ErrorCode::kInternal, "libcurl could not create a handle");
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace eropaf::sync
