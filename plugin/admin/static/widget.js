// The POST order widget (rendered by the server): report its height; follow a theme if one comes.

import { Bridge } from "./bridge.js";
import { followTheme, reportHeight } from "./frame.js";

const bridge = new Bridge();
followTheme(bridge);
reportHeight(bridge);
