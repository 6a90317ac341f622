// COM1 and the i8042 served by superio's Rust crates through the napi bridge.
import { defineSuite } from "./suite.mjs";

defineSuite("superio");
