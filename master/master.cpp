// Master::Start and the operator HTTP API. The master's logic lives in the
// books (framework_book, agent_book, offer_book, tasks, accept) and the actor
// shell around them (master_actor); the views render on the HTTP threads.
#include "master/master.hpp"

#include <caf/all.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/duration.hpp"
#include "common/http_server.hpp"
#include "common/transport.hpp"
#include "master/master_actor.hpp"
#include "master/outbox.hpp"
#include "master/registrar_actor.hpp"
#include "master/views.hpp"
#include "protocols/codec.hpp"

namespace stoa::master {

using json = nlohmann::json;

void ZmqOutbox::Send(const std::string& peer, Message message) {
  endpoint_->SendToPeer(peer, Encode(message));
}

struct Master::Impl {
  caf::actor_system* system = nullptr;
  std::unique_ptr<ZmqEndpoint> endpoint;
  std::unique_ptr<ZmqOutbox> outbox;
  HttpServer http;
  caf::actor actor;
  caf::actor registrar;
  std::string address;
  SharedAnswer state_answer, metrics_answer;

  // Ends the actors and waits for them: they hold the endpoint by pointer.
  void StopActors() {
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(registrar, caf::exit_reason::user_shutdown);
    caf::scoped_actor self{*system};
    self->wait_for(actor, registrar);
  }

  // Asks the actor for a snapshot and renders it here, on the caller's
  // thread; callers that arrive meanwhile share the answer.
  std::string Ask(caf::atom_value what) {
    bool metrics = what == metrics_atom::value;
    return (metrics ? metrics_answer : state_answer).Get([this, what, metrics] {
      std::string answer;
      caf::scoped_actor self{*system};
      self->request(actor, std::chrono::seconds(10), caf::make_message(what))
          .receive(
              [&](const SnapshotPtr& snapshot) {
                try {
                  answer = metrics ? RenderMetrics(*snapshot, endpoint->counters(), WallSeconds())
                                   : RenderState(*snapshot);
                } catch (const std::exception& e) {
                  answer = json{{"error", std::string("cannot render the view: ") + e.what()}}.dump(
                      -1, ' ', false, json::error_handler_t::replace);
                }
              },
              [&](caf::error& error) {
                answer =
                    json{{"error", "the master did not answer: " + system->render(error)}}.dump();
              });
      return answer;
    });
  }
};

Master::Master(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Master::~Master() {
  impl_->http.Stop();
  impl_->endpoint->Stop();
  impl_->StopActors();
}

Result<std::unique_ptr<Master>> Master::Start(caf::actor_system& system,
                                              const MasterOptions& options,
                                              std::unique_ptr<Storage> storage) {
  std::error_code error;
  std::filesystem::create_directories(options.work_dir, error);
  if (error) {
    return Status::Error("cannot create work directory '" + options.work_dir +
                         "': " + error.message());
  }
  if (storage == nullptr) {
    auto local = OpenLevelDbStorage(options.work_dir + "/registry");
    if (!local.ok()) return local.status();
    storage = std::move(*local);
  }
  auto registrar = std::make_shared<Registrar>(std::move(storage));
  Result<Registry> registry = registrar->Recover();
  if (!registry.ok()) return registry.status();
  auto impl = std::make_unique<Impl>();
  impl->system = &system;
  impl->endpoint = std::make_unique<ZmqEndpoint>("master", options.transport);
  std::string bind = options.bind_address.empty()
                         ? "tcp://" + options.ip + ":" + std::to_string(options.port)
                         : options.bind_address;
  if (Status s = impl->endpoint->Bind(bind); !s.ok()) return s;
  impl->address = impl->endpoint->BoundAddress();
  impl->registrar = system.spawn<caf::detached>(RegistrarActor, registrar);
  impl->outbox = std::make_unique<ZmqOutbox>(impl->endpoint.get());
  impl->actor = SpawnMasterActor(system, options, impl->outbox.get(), impl->address,
                                 std::move(*registry), impl->registrar);
  caf::actor actor = impl->actor;
  // Frames are decoded here, on the endpoint's I/O thread; one that does not
  // decode is counted, logged and answered there and never reaches the actor.
  impl->endpoint->Start(
      Decoding(Decode,
               [actor](const FrameOrigin& origin, Message message, FrameTicket ticket) {
                 caf::anon_send(actor, recv_atom::value, origin.id, std::move(message),
                                std::move(ticket));
               }),
      EncodeRefusal);

  Impl* raw = impl.get();
  auto answer = [raw](caf::atom_value what, const std::string& type) {
    return [raw, what, type](const HttpRequest&) {
      HttpResponse response;
      response.content_type = type;
      response.body = raw->Ask(what);
      return response;
    };
  };
  impl->http.Route("GET", "/state", answer(state_atom::value, "application/json"));
  impl->http.Route("GET", "/metrics", answer(metrics_atom::value, "text/plain; version=0.0.4"));
  // Operator API: POST /agents/gone?agent_id=ID marks a retired agent gone for good.
  impl->http.Route("POST", "/agents/gone", [raw](const HttpRequest& request) {
    auto id = request.params.find("agent_id");
    if (id == request.params.end() || id->second.empty()) {
      return JsonError(400, "name the agent: POST /agents/gone?agent_id=ID");
    }
    std::string error;
    caf::scoped_actor self{*raw->system};
    self->request(raw->actor, std::chrono::seconds(30), gone_atom::value, id->second)
        .receive(
            [&](std::string& answer) { error = std::move(answer); },
            [&](caf::error& e) { error = "the master did not answer: " + raw->system->render(e); });
    if (!error.empty())
      return JsonError(error.find("not known") != std::string::npos ? 404 : 409, error);
    HttpResponse response;
    response.body = json{{"agent_id", id->second}, {"state", "gone"}}.dump();
    return response;
  });
  // Healthy while the master actor answers: one that stopped leading (a
  // failed registry write) says so instead of a constant "healthy".
  impl->http.Route("GET", "/health", [raw](const HttpRequest&) {
    std::string error;
    caf::scoped_actor self{*raw->system};
    self->request(raw->actor, std::chrono::seconds(5), health_atom::value)
        .receive([](bool) {}, [&](caf::error& e) { error = raw->system->render(e); });
    HttpResponse response;
    if (!error.empty()) {
      response.status = 503;
      response.body = json{{"healthy", false},
                           {"leading", false},
                           {"error", "the master does not answer: " + error}}
                          .dump();
      return response;
    }
    response.body = R"({"healthy":true,"leading":true})";
    return response;
  });
  if (Status s = impl->http.Start(options.ip, options.http_port); !s.ok()) {
    impl->endpoint->Stop();
    impl->StopActors();
    return s;
  }
  return std::unique_ptr<Master>(new Master(std::move(impl)));
}

std::string Master::address() const { return impl_->address; }
int Master::http_port() const { return impl_->http.port(); }
std::string Master::StateJson() const { return impl_->Ask(state_atom::value); }

}  // namespace stoa::master
