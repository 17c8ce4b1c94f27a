// One LayerTime as JSON (the keys of `grace simulate --json` and of compare's results.json).
#ifndef GRACE_SIM_LAYER_TIME_JSON_H_
#define GRACE_SIM_LAYER_TIME_JSON_H_

#include <nlohmann/json.hpp>

#include "grace/simulate.h"

namespace grace {

nlohmann::json layer_time_json(const LayerTime& t);

}  // namespace grace

#endif  // GRACE_SIM_LAYER_TIME_JSON_H_
