pub mod specialize;
