#include "discovery/dns_zone.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "discovery/json_fields.hpp"

namespace stoa::discovery {

using json = nlohmann::json;

namespace {

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// A short stable tag for one task: 7 hex digits of FNV-1a over its id (two
// of an app's 100 instances share one with a chance of about 2 in 100,000).
std::string TaskTag(const std::string& task_id) {
  uint32_t hash = 2166136261u;
  for (unsigned char c : task_id) hash = (hash ^ c) * 16777619u;
  static const char kHex[] = "0123456789abcdef";
  std::string tag;
  for (int i = 0; i < 7; ++i) tag += kHex[(hash >> (4 * i)) & 0xf];
  return tag;
}

// The protocols a port definition serves: "tcp", "udp" or "udp,tcp".
std::vector<std::string> Protocols(const json& definition) {
  std::string given = StringField(definition, "protocol", "tcp");
  std::vector<std::string> protocols;
  for (const char* protocol : {"tcp", "udp"}) {
    if (Lower(given).find(protocol) != std::string::npos) protocols.push_back(protocol);
  }
  if (protocols.empty()) protocols.push_back("tcp");
  return protocols;
}

}  // namespace

void Zone::AddName(const std::string& name) {
  for (std::string at = name; InDomain(at); at = at.substr(at.find('.') + 1)) {
    names_.insert(at);
    if (at == domain_ || at.find('.') == std::string::npos) break;
  }
}

void Zone::AddA(const std::string& name, uint32_t ipv4) {
  auto& addresses = a_[name];
  if (std::find(addresses.begin(), addresses.end(), ipv4) == addresses.end()) {
    addresses.push_back(ipv4);
  }
  AddName(name);
}

void Zone::AddSrv(const std::string& name, SrvRecord record) {
  auto& records = srv_[name];
  if (std::find(records.begin(), records.end(), record) == records.end()) {
    records.push_back(std::move(record));
  }
  AddName(name);
}

bool Zone::InDomain(const std::string& name) const {
  if (name == domain_) return true;
  return name.size() > domain_.size() + 1 &&
         name.compare(name.size() - domain_.size(), domain_.size(), domain_) == 0 &&
         name[name.size() - domain_.size() - 1] == '.';
}

bool Zone::Exists(const std::string& name) const { return names_.count(name) > 0; }

const std::vector<uint32_t>* Zone::A(const std::string& name) const {
  auto found = a_.find(name);
  return found == a_.end() ? nullptr : &found->second;
}

const std::vector<SrvRecord>* Zone::Srv(const std::string& name) const {
  auto found = srv_.find(name);
  return found == srv_.end() ? nullptr : &found->second;
}

size_t Zone::record_count() const {
  size_t count = 0;
  for (const auto& [name, records] : a_) count += records.size();
  for (const auto& [name, records] : srv_) count += records.size();
  return count;
}

std::optional<uint32_t> ResolveIpv4(const std::string& host) {
  in_addr literal{};
  if (inet_pton(AF_INET, host.c_str(), &literal) == 1) return ntohl(literal.s_addr);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  uint32_t address = ntohl(reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr.s_addr);
  freeaddrinfo(found);
  return address;
}

std::string AppDnsName(const std::string& app_id) {
  std::vector<std::string> segments;
  size_t at = 0;
  while (at < app_id.size()) {
    size_t end = app_id.find('/', at);
    if (end == std::string::npos) end = app_id.size();
    if (end > at) segments.push_back(app_id.substr(at, end - at));
    at = end + 1;
  }
  std::string name;
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    name += (name.empty() ? "" : ".") + *it;
  }
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '-';
  }
  return name;
}

Zone BuildZone(const std::string& domain, const std::string& framework, const json& apps,
               const std::optional<MasterRecord>& master, const HostResolver& resolve,
               int* unresolved) {
  Zone zone(Lower(domain));
  const std::string suffix = "." + Lower(framework) + "." + zone.domain();
  int missing = 0;
  if (master && !master->host.empty()) {
    if (auto ip = resolve(master->host)) {
      zone.AddA("leader." + zone.domain(), *ip);
      zone.AddA("master." + zone.domain(), *ip);
      if (master->http_port > 0) {
        zone.AddSrv("_leader._tcp." + zone.domain(),
                    {static_cast<uint16_t>(master->http_port), "leader." + zone.domain()});
      }
    } else {
      ++missing;
    }
  }
  for (const auto& app : apps.is_array() ? apps : json::array()) {
    if (!app.is_object() || !app.contains("id") || !app["id"].is_string()) continue;
    const std::string name = AppDnsName(app["id"].get<std::string>());
    if (name.empty()) continue;
    const json definitions = ArrayField(app, "portDefinitions");
    for (const auto& endpoint : ArrayField(app, "endpoints")) {
      if (!endpoint.is_object()) continue;
      auto ip = resolve(StringField(endpoint, "host"));
      if (!ip) {
        ++missing;
        continue;
      }
      zone.AddA(name + suffix, *ip);
      const std::string target = name + "-" + TaskTag(StringField(endpoint, "taskId")) + suffix;
      zone.AddA(target, *ip);
      const json ports = ArrayField(endpoint, "ports");
      for (size_t i = 0; i < ports.size(); ++i) {
        int port = PortValue(ports[i]);
        if (port == 0) continue;
        json definition = i < definitions.size() ? definitions[i] : json::object();
        std::string port_name = StringField(definition, "name");
        for (const auto& protocol : Protocols(definition)) {
          SrvRecord record{static_cast<uint16_t>(port), target};
          zone.AddSrv("_" + name + "._" + protocol + suffix, record);
          if (!port_name.empty()) {
            zone.AddSrv("_" + AppDnsName(port_name) + "._" + name + "._" + protocol + suffix,
                        record);
          }
        }
      }
    }
  }
  if (unresolved) *unresolved = missing;
  return zone;
}

}  // namespace stoa::discovery
