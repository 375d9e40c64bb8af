#include "discovery/haproxy_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "discovery/json_fields.hpp"

namespace stoa::discovery {

using json = nlohmann::json;

namespace {

std::string Ipv4(uint32_t address) {
  return fmt::format("{}.{}.{}.{}", address >> 24, (address >> 16) & 255, (address >> 8) & 255,
                     address & 255);
}

std::string Label(const json& labels, const std::string& key, const std::string& fallback) {
  return StringField(labels, key.c_str(), fallback);
}

// The host names of a HAPROXY_{n}_VHOST label that are host names (letters,
// digits, '-', '.', a leading "*."), space-separated; anything else is
// dropped, so a label can never write into the config.
std::string VhostNames(const std::string& label) {
  std::string names, name;
  std::istringstream entries(label);
  while (std::getline(entries, name, ',')) {
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    bool valid = !name.empty() && name.size() <= 253;
    for (size_t i = 0; valid && i < name.size(); ++i) {
      char c = name[i];
      valid = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
              (c == '*' && i == 0 && name.size() > 2 && name[1] == '.');
    }
    if (valid) names += (names.empty() ? "" : " ") + name;
  }
  return names;
}

// A name HAProxy takes for a proxy: the app id's segments joined by '_'.
std::string BackendName(const std::string& app_id, int service_port) {
  std::string name;
  for (char c : app_id) {
    if (c == '/') {
      if (!name.empty()) name += '_';
    } else {
      name += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
    }
  }
  return name + "_" + std::to_string(service_port);
}

// The slot each server of `backend` takes, keeping those of `previous`
// where the same task still is: slot -> server (empty ip: unused).
std::vector<LbServer> Slots(const LbBackend& backend) {
  std::vector<LbServer> slots(static_cast<size_t>(backend.slots));
  for (size_t i = 0; i < backend.servers.size() && i < slots.size(); ++i) {
    slots[i] = backend.servers[i];
  }
  return slots;
}

}  // namespace

std::vector<LbBackend> PlanBackends(const json& apps, const LbConfigOptions& options,
                                    const HostResolver& resolve,
                                    const std::vector<LbBackend>& previous) {
  std::map<std::string, const LbBackend*> before;
  for (const auto& backend : previous) before[backend.name] = &backend;
  std::vector<LbBackend> backends;
  for (const auto& app : apps.is_array() ? apps : json::array()) {
    if (!app.is_object() || !app.contains("id") || !app["id"].is_string()) continue;
    const json labels = ObjectField(app, "labels");
    if (Label(labels, "HAPROXY_GROUP", "external") != options.group) continue;
    const json definitions = ArrayField(app, "portDefinitions");
    for (size_t i = 0; i < definitions.size(); ++i) {
      int service_port = definitions[i].is_object() ? PortValue(definitions[i]["port"]) : 0;
      if (service_port == 0) continue;
      LbBackend backend;
      backend.app_id = app["id"].get<std::string>();
      backend.service_port = service_port;
      backend.name = BackendName(backend.app_id, service_port);
      std::string prefix = "HAPROXY_" + std::to_string(i) + "_";
      backend.vhost = VhostNames(Label(labels, prefix + "VHOST", ""));
      backend.mode = Label(labels, prefix + "MODE", backend.vhost.empty() ? "tcp" : "http");
      if (backend.mode != "http") backend.mode = "tcp";
      for (const auto& endpoint : ArrayField(app, "endpoints")) {
        const json ports = ArrayField(endpoint, "ports");
        int port = i < ports.size() ? PortValue(ports[i]) : 0;
        auto ip = port ? resolve(StringField(endpoint, "host")) : std::nullopt;
        if (!ip) continue;
        backend.servers.push_back({Ipv4(*ip), port, StringField(endpoint, "taskId")});
      }
      const LbBackend* old = before.count(backend.name) ? before[backend.name] : nullptr;
      // Servers that stay keep their slot, so the runtime API moves only the others.
      if (old) {
        std::vector<LbServer> placed(static_cast<size_t>(old->slots));
        std::vector<LbServer> rest;
        for (const auto& server : backend.servers) {
          auto at = std::find(old->servers.begin(), old->servers.end(), server);
          if (at != old->servers.end()) {
            placed[static_cast<size_t>(at - old->servers.begin())] = server;
          } else {
            rest.push_back(server);
          }
        }
        if (static_cast<int>(backend.servers.size()) <= old->slots) {
          for (auto& slot : placed) {
            if (slot.ip.empty() && !rest.empty()) {
              slot = rest.front();
              rest.erase(rest.begin());
            }
          }
          while (!placed.empty() && placed.back().ip.empty()) placed.pop_back();
          backend.servers = placed;  // may hold unused slots (empty ip) in the middle
          backend.slots = old->slots;
        }
      }
      if (backend.slots == 0) {
        backend.servers.erase(std::remove_if(backend.servers.begin(), backend.servers.end(),
                                             [](const LbServer& s) { return s.ip.empty(); }),
                              backend.servers.end());
        backend.slots = std::max(options.min_slots, static_cast<int>(2 * backend.servers.size()));
      }
      backends.push_back(std::move(backend));
    }
  }
  std::sort(backends.begin(), backends.end(),
            [](const LbBackend& a, const LbBackend& b) { return a.name < b.name; });
  return backends;
}

bool SameShape(const std::vector<LbBackend>& a, const std::vector<LbBackend>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].mode != b[i].mode || a[i].vhost != b[i].vhost ||
        a[i].slots != b[i].slots || a[i].service_port != b[i].service_port) {
      return false;
    }
  }
  return true;
}

std::string RenderConfig(const std::vector<LbBackend>& backends, const LbConfigOptions& options) {
  std::string out = fmt::format(
      "# Written by stoa lb from the service framework's endpoints; rewritten on every change.\n"
      "global\n"
      "  stats socket {} mode 600 level admin expose-fd listeners\n"
      "  stats timeout 2m\n"
      "\n"
      "defaults\n"
      "  mode tcp\n"
      "  timeout connect 5s\n"
      "  timeout client 60s\n"
      "  timeout server 60s\n"
      "  retries 3\n"
      "  option redispatch\n"
      "  default-server init-addr none\n",
      options.socket_path);
  bool vhosts = false;
  for (const auto& backend : backends) vhosts = vhosts || !backend.vhost.empty();
  if (vhosts && options.http_port > 0) {
    out += fmt::format("\nfrontend stoa_http_in\n  bind {}:{}\n  mode http\n", options.bind_ip,
                       options.http_port);
    for (const auto& backend : backends) {
      if (backend.vhost.empty() || backend.mode != "http") continue;
      out += fmt::format("  use_backend {} if {{ hdr(host),field(1,:) -i {} }}\n", backend.name,
                         backend.vhost);
    }
  }
  for (const auto& backend : backends) {
    out += fmt::format("\nfrontend {}\n  bind {}:{}\n  mode {}\n  use_backend {}\n", backend.name,
                       options.bind_ip, backend.service_port, backend.mode, backend.name);
    out +=
        fmt::format("\nbackend {}\n  mode {}\n  balance roundrobin\n", backend.name, backend.mode);
    if (backend.mode == "http") {
      // Only failed connections are retried (elsewhere, with redispatch): the
      // request was never sent, so even a POST is safe to send again.
      out += "  option forwardfor\n  retry-on conn-failure\n";
    }
    std::vector<LbServer> slots = Slots(backend);
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].ip.empty()) {
        out += fmt::format("  server s{} 127.0.0.1:1 disabled\n", i);
      } else {
        out += fmt::format("  server s{} {}:{}\n", i, slots[i].ip, slots[i].port);
      }
    }
  }
  return out;
}

std::vector<std::string> RuntimeCommands(const std::vector<LbBackend>& from,
                                         const std::vector<LbBackend>& to) {
  std::vector<std::string> commands;
  for (size_t b = 0; b < to.size() && b < from.size(); ++b) {
    std::vector<LbServer> old_slots = Slots(from[b]), new_slots = Slots(to[b]);
    for (size_t i = 0; i < new_slots.size() && i < old_slots.size(); ++i) {
      if (old_slots[i] == new_slots[i]) continue;
      std::string server = to[b].name + "/s" + std::to_string(i);
      if (new_slots[i].ip.empty()) {
        commands.push_back("set server " + server + " state maint");
      } else {
        commands.push_back(fmt::format("set server {} addr {} port {}", server, new_slots[i].ip,
                                       new_slots[i].port));
        commands.push_back("set server " + server + " state ready");
      }
    }
  }
  return commands;
}

}  // namespace stoa::discovery
