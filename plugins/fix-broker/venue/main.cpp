// tradehost-fix-venue: a FIX 4.4 acceptor that plays a broker for tests and for trying the
// fix-broker plugin without one. Runs until SIGTERM or SIGINT.
#include "options.hpp"
#include "venue.hpp"

#include <quickfix/FileStore.h>
#include <quickfix/MessageStore.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/ThreadedSocketAcceptor.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <sstream>

int main(int argc, char **argv) {
  fix_venue::Options options;
  try {
    options = fix_venue::parse_options(argc, argv);
  } catch (const std::exception &e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  // Block the stop signals before QuickFIX starts its threads, so sigwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::ostringstream text;
  text << "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=" << options.port << "\n"
       << "SocketReuseAddress=Y\nSocketNodelay=Y\nUseDataDictionary=N\n"
       << "StartTime=00:00:00\nEndTime=00:00:00\n"
       << (options.store_dir.empty() ? "" : "FileStorePath=" + options.store_dir + "\n")
       << "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=" << options.sender_comp_id << "\n"
       << "TargetCompID=" << options.target_comp_id << "\nHeartBtInt=" << options.heartbeat_s << "\n";
  try {
    std::istringstream in(text.str());
    FIX::SessionSettings settings(in);
    std::unique_ptr<FIX::MessageStoreFactory> store;
    if (options.store_dir.empty())
      store.reset(new FIX::MemoryStoreFactory());
    else
      store.reset(new FIX::FileStoreFactory(options.store_dir));
    fix_venue::Venue venue(options);
    FIX::ScreenLogFactory no_messages(false, false, false);
    FIX::ThreadedSocketAcceptor acceptor(venue, *store, settings, no_messages);
    acceptor.start();
    fix_venue::Venue::event("listening", {{"port", options.port},
                                          {"sender_comp_id", options.sender_comp_id},
                                          {"target_comp_id", options.target_comp_id}});
    int received = 0;
    sigwait(&stop_signals, &received);
    fix_venue::Venue::event("stopping", {{"signal", received}});
    acceptor.stop();
  } catch (const std::exception &e) {
    std::cerr << "tradehost-fix-venue: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
