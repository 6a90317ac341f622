// The same suite against v86's own UART and i8042: keeps the harness honest.
import { defineSuite } from "./suite.mjs";

defineSuite("v86");
