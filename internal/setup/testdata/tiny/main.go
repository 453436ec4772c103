// Command tiny is a static binary standing in for luma in setup's tests.
package main

func main() {}
