"""The site's static side: security headers and the objects written to the web-app bucket at deploy."""
