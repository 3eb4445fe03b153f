// CloudFront Function (cloudfront-js-2.0), viewer request of /api/*: the session lives in an HttpOnly
// cookie the page cannot read; API Gateway's JWT authorizer reads only the Authorization header.
// Copy the cookie into "Authorization: Bearer" so the authorizer still verifies every call, unless the
// caller sent its own Authorization header (scripts), which is left as it is.
var SESSION_COOKIE = '__Host-ridelines-session';
var MAX_TOKEN_LENGTH = 4096;

function handler(event) {
  var request = event.request;
  if (request.headers.authorization) {
    return request;
  }
  var cookie = request.cookies[SESSION_COOKIE];
  if (cookie && cookie.value && cookie.value.length <= MAX_TOKEN_LENGTH) {
    request.headers.authorization = { value: 'Bearer ' + cookie.value };
  }
  return request;
}
