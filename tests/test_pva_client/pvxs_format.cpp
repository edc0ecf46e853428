// Reference output of libpvxs for the CLI tests: prints what pvxs's value
// formatter makes of a PV, laid out as pvxs's command-line tools lay it out
// (the PV name, then the value indented one level).
//
//   pvxs_format get NAME REQUEST tree|delta LIMIT
//   pvxs_format monitor NAME REQUEST tree|delta LIMIT COUNT
//   pvxs_format info NAME
//   pvxs_format version | target
#include <iostream>
#include <string>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <epicsEvent.h>

#include <pvxs/client.h>
#include <pvxs/util.h>

using namespace pvxs;

int main(int argc, char* argv[])
{
    try {
        std::string cmd(argc > 1 ? argv[1] : "");
        if(cmd == "version") { std::cout << version_information; return 0; }
        if(cmd == "target") { target_information(std::cout); return 0; }
        if(argc < 3) return 2;
        auto ctxt(client::Context::fromEnv());
        const char* name = argv[2];
        if(cmd == "info") {
            epicsEvent done;
            std::string text;
            auto op = ctxt.info(name).result([&](client::Result&& r) {
                std::ostringstream strm;
                strm << name << " from " << r.peerName() << "\n" << r().format().showValue(false);
                text = strm.str();
                done.signal();
            }).exec();
            if(!done.wait(5.0)) return 1;
            std::cout << text;
            return 0;
        }
        if(argc < 6) return 2;
        auto fmt = std::strcmp(argv[4], "tree") == 0 ? Value::Fmt::Tree : Value::Fmt::Delta;
        auto limit = std::strtoull(argv[5], nullptr, 10);
        if(cmd == "get") {
            Value v(ctxt.get(name).pvRequest(argv[3]).exec()->wait(5.0));
            std::cout << name << "\n";
            Indented I(std::cout);
            std::cout << v.format().format(fmt).arrayLimit(limit);
            return 0;
        }
        if(cmd == "monitor" && argc > 6) {
            int count = std::atoi(argv[6]);
            epicsEvent ready;
            auto sub(ctxt.monitor(name).pvRequest(argv[3])
                     .event([&ready](client::Subscription&) { ready.signal(); })
                     .exec());
            while(count > 0) {
                if(!ready.wait(5.0)) return 1;
                while(count > 0) {
                    Value u(sub->pop());
                    if(!u) break;
                    std::cout << name << "\n";
                    Indented I(std::cout);
                    std::cout << u.format().format(fmt).arrayLimit(limit);
                    std::cout.flush();
                    count--;
                }
            }
            std::cout.flush();
            return 0;
        }
        return 2;
    } catch(std::exception& e) {
        std::cerr << "Error: " << e.what() << "\n";
        return 1;
    }
}
