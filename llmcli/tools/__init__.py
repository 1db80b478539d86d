"""Tools that run: commands, MCP servers and Python callables as the model's tools, each
call approved before it runs, and the loop that sends their results back."""
