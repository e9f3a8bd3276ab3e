print("benchmark not yet built")
