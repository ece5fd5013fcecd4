"""What moorage serves to browsers: the API docs pages and their static files."""
